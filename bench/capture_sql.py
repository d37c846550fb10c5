"""Print, as JSON, the SQL our app runs for one GET: ``python bench/capture_sql.py PATH TOKEN``.

Run in the benchmark's environment (DATABASE_URL, secrets), so the statements are exactly those the
served app sends to PostgreSQL, with their parameters in place, ready for EXPLAIN.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "todo_project.settings")


def main(path: str, token: str) -> None:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
    if response.status_code != 200:
        raise SystemExit(f"GET {path} answered {response.status_code}: {response.content[:300]!r}")
    print(json.dumps([query["sql"] for query in captured.captured_queries]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
