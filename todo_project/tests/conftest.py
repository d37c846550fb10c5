"""The reliability suite's fixtures: a PostgreSQL database for real servers, the summary of what it tried, and a
headless Chromium."""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from todo_project.tests.servers import create_database, drop_database, migrate, postgres_server, production_env

# What reliability tests count, with record_property(name, n), for the summary line.
TALLIES = {
    "cases_fuzzed": "cases fuzzed",
    "hostile_requests": "hostile requests",
    "concurrent_operations": "concurrent operations",
    "faults_injected": "faults injected",
    "slow_clients": "slow clients",
    "cost_probes": "cost probes",
    "log_probes": "log probes",
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


# Debian's chromium and chromium-driver packages; CI installs them.
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Root in a container without network: no sandbox, no GPU, and nothing that phones home.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1800",
]


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    # A missing browser is a broken test environment, not a reason to skip.
    for binary in (CHROMIUM, CHROMEDRIVER):
        assert binary.is_file(), f"{binary} is missing: apt-get install chromium chromium-driver"
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options = Options()
        options.binary_location = str(CHROMIUM)
        for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        # Every request the page makes, for the tests that check where it loads from.
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()
