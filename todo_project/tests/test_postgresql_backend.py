"""The connection health check: free while the connection is quiet, a real check once the server drops it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

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
