"""Our PostgreSQL backend: a health check that is free while the connection is quiet, faster timestamps, and
bulk statements cut to the server's parameter limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC

import psycopg
import pytest
from django.db import DataError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.psycopg_any import get_adapters_template
from psycopg.pq import Format

from todo_project.postgresql.base import FastTzLoader

TIMESTAMPTZ_OID = psycopg.adapters.types["timestamptz"].oid

pytestmark = pytest.mark.django_db


@pytest.fixture
def wrapper() -> Iterator[BaseDatabaseWrapper]:
    """A connection of its own, outside the test's transaction, as a worker holds one between requests."""
    if connections["default"].vendor != "postgresql":
        pytest.skip("the health check is PostgreSQL's; CI runs this on PostgreSQL")
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


@pytest.fixture
def observer() -> Iterator[psycopg.Connection]:
    settings = connections["default"].get_connection_params()
    settings.pop("context", None)
    with psycopg.connect(**settings, autocommit=True) as connection:
        yield connection


def last_statement(observer: psycopg.Connection, pid: int) -> str:
    return observer.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]


def test_a_quiet_connection_is_usable_without_a_round_trip(
    wrapper: BaseDatabaseWrapper, observer: psycopg.Connection
) -> None:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 42")

    assert wrapper.is_usable()
    # PostgreSQL shows the last statement each connection sent: the check sent none.
    assert last_statement(observer, wrapper.connection.info.backend_pid) == "SELECT 42"


def test_a_connection_the_server_dropped_is_not_usable(
    wrapper: BaseDatabaseWrapper, observer: psycopg.Connection
) -> None:
    observer.execute("SELECT pg_terminate_backend(%s)", [wrapper.connection.info.backend_pid])
    deadline = time.monotonic() + 5
    while wrapper.is_usable():  # the server's goodbye reaches the socket within moments
        assert time.monotonic() < deadline, "a terminated connection still looked usable after 5 s"
        time.sleep(0.01)

    wrapper.close_if_unusable_or_obsolete()
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_connection_in_a_transaction_gets_the_full_check(
    wrapper: BaseDatabaseWrapper, observer: psycopg.Connection
) -> None:
    wrapper.set_autocommit(False)
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 42")

    assert wrapper.is_usable()
    assert last_statement(observer, wrapper.connection.info.backend_pid) == "SELECT 1"


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23 07:09:31.595123+00",
        "2026-11-23 07:09:31+00",
        "2026-01-01 10:00:00.12+05:30",
        "0002-01-01 00:00:00+00",
        "9998-12-31 23:59:59.999999+00",
    ],
)
def test_timestamps_read_exactly_as_djangos_loader_reads_them(
    wrapper: BaseDatabaseWrapper, observer: psycopg.Connection, text: str
) -> None:
    # Django's own adapters, on a connection in the same time zone: the loader our backend replaced.
    context = get_adapters_template(True, UTC)
    # The observer's parameters hold settings.py's libpq options too: replaced, only the time zone is set.
    parameters = {**observer.info.get_parameters(), "options": "-c TimeZone=UTC"}
    with psycopg.connect(**parameters, context=context) as reference:
        djangos = reference.execute("SELECT %s::timestamptz", [text]).fetchone()[0]
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz", [text])
        ours = cursor.fetchone()[0]

    assert isinstance(wrapper.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)(0), FastTzLoader)
    assert (ours, ours.tzinfo) == (djangos, djangos.tzinfo)


@pytest.mark.parametrize("text", ["infinity", "0044-03-15 00:00:00+00 BC"])
def test_a_timestamp_python_cannot_hold_is_djangos_error(wrapper: BaseDatabaseWrapper, text: str) -> None:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz", [text])
        with pytest.raises(DataError, match="timestamp too"):
            cursor.fetchone()


def test_a_bulk_insert_past_the_servers_parameter_limit_is_cut_into_statements_that_fit(
    wrapper: BaseDatabaseWrapper,
) -> None:
    # Server-side binding (settings.py): PostgreSQL refuses a statement with more than 65,535 parameters.
    fields = [f"field_{n}" for n in range(14)]

    assert wrapper.features.max_query_params == 65_535
    assert wrapper.ops.bulk_batch_size(fields, [None] * 10_000) == 65_535 // 14


def test_a_statement_run_again_and_again_is_prepared_once(wrapper: BaseDatabaseWrapper) -> None:
    # PostgreSQL then parses and plans it once per connection, not on every request (settings.py).
    with wrapper.cursor() as cursor:
        for task_id in range(1, 8):
            cursor.execute("SELECT count(*) FROM tasks_task WHERE id = %s", [task_id])
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]

    assert prepared == ["SELECT count(*) FROM tasks_task WHERE id = $1"]
