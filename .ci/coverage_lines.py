"""Fails when the test run covered less than a minimum share of the project's lines.

    python .ci/coverage_lines.py COVERAGE_JSON MINIMUM

coverage.py's own fail-under judges lines and branches together when it measures branches; the project's
promise is about lines, so this reads the lines' share from the report `coverage json` writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    report, minimum = Path(argv[1]), float(argv[2])
    totals = json.loads(report.read_text())["totals"]
    lines = totals["percent_statements_covered"]
    print(
        f"coverage: {lines:.1f}% of lines (minimum {minimum:g}%), {totals['percent_branches_covered']:.1f}% of branches"
    )
    if lines < minimum:
        print(f"FAIL: {minimum - lines:.1f} points of lines short; see the report above for what did not run.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
