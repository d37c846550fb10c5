"""The reliability suite's fixtures: a PostgreSQL database for real servers, and the summary of what it tried."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from todo_project.tests.servers import create_database, drop_database, migrate, postgres_server, production_env

# What reliability tests count, with record_property(name, n), for the summary line.
TALLIES = {
    "cases_fuzzed": "cases fuzzed",
    "hostile_requests": "hostile requests",
    "concurrent_operations": "concurrent operations",
    "faults_injected": "faults injected",
    "slow_clients": "slow clients",
}


@pytest.fixture(scope="session")
def server_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for the servers the tests start, dropped at the end.

    PostgreSQL even when the suite itself runs on SQLite: locking, transactions and lost connections
    are what these tests are about, and they behave as in production only there.
    """
    url = create_database(postgres_server())
    try:
        migrate(production_env(DATABASE_URL=url))
        yield url
    finally:
        drop_database(url)


@pytest.fixture(scope="session")
def server_env(server_database: str) -> dict[str, str]:
    """The environment of a production server on that database."""
    # The limits are tested elsewhere (test_live_server.py); here they would only turn the
    # thousands of requests these tests make into 429s.
    return production_env(
        DATABASE_URL=server_database,
        API_THROTTLE_RATE="1000000/minute",
        API_ANON_THROTTLE_RATE="1000000/minute",
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    totals: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for reports in terminalreporter.stats.values():
        for report in reports:
            if not isinstance(report, pytest.TestReport) or "reliability" not in report.keywords:
                continue
            if report.when == "teardown":  # each phase's report repeats the properties recorded so far
                for name, value in report.user_properties:
                    if name in TALLIES:
                        totals[name] += value
            if report.when == "call" or report.outcome != "passed":
                outcomes["xfailed" if hasattr(report, "wasxfail") else report.outcome] += 1
    if not outcomes:
        return
    counts = ", ".join(f"{totals[name]} {label}" for name, label in TALLIES.items())
    line = f"reliability: {counts}, {outcomes['failed']} failures"
    if outcomes["xfailed"]:
        line += f" ({outcomes['xfailed']} expected, awaiting a fix)"
    terminalreporter.write_line(line, bold=True, red=bool(outcomes["failed"]), green=not outcomes["failed"])
