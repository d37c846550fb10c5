"""`make test`'s first step: say in one line what the machine lacks for the live tests, before installing anything.

Standard library only: it runs on the bare Python that will create the virtualenv.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import urllib.parse
from pathlib import Path

# Where the tests look: todo_project/tests/conftest.py (Chromium), deploy/serve.py (nginx, also in /usr/sbin),
# todo_project/tests/servers.py (PostgreSQL: DATABASE_URL's server when it names one), the Redis tests.
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REDIS = ("127.0.0.1", 6379)


def postgres_address() -> tuple[str, int]:
    url = urllib.parse.urlsplit(os.environ.get("DATABASE_URL", ""))
    if url.scheme in ("postgres", "postgresql", "pgsql"):
        return url.hostname or "127.0.0.1", url.port or 5432
    return "127.0.0.1", 5432


def answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=2):
            return True
    except OSError:
        return False


def missing() -> list[str]:
    path = f"{os.environ.get('PATH', '')}{os.pathsep}/usr/sbin"
    postgres = postgres_address()
    checks = [
        (shutil.which("nginx", path=path) is not None, "nginx (apt-get install nginx-light)"),
        (
            CHROMIUM.is_file() and CHROMEDRIVER.is_file(),
            f"{CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)",
        ),
        (
            shutil.which("node") is not None and shutil.which("npm") is not None,
            "Node.js with npm (apt-get install nodejs npm)",
        ),
        (answers(postgres), "PostgreSQL on {}:{} (apt-get install postgresql, then start it)".format(*postgres)),
        (answers(REDIS), "Redis on {}:{} (apt-get install redis-server, then start it)".format(*REDIS)),
    ]
    return [what for present, what in checks if not present]


def main() -> int:
    lacking = missing()
    if not lacking:
        return 0
    print(
        f"make test needs {'; '.join(lacking)}. On Debian, as root, .ci/run starts PostgreSQL and Redis and installs "
        "nginx and Chromium.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
