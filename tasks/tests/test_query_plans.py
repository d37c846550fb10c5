"""A list page costs its own size, whatever its owner's task count: each list's read walks an index in the list's
order and stops at the page's end. Checked on the plans PostgreSQL makes for the statements the API sends: the
generic plan a connection keeps for a prepared statement (after its fifth run), and the plan for a user the
statistics do not single out. Both estimate a user's tasks from the average over all users, a handful."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from psycopg import sql
from rest_framework.test import APIClient

from conftest import ALICE
from tasks.models import Task

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")

BASE = f"/api/{ALICE}/tasks/"
USERS, TASKS_EACH = 1_000, 10


@pytest.fixture
def many_users(db: None) -> None:
    """Tasks as a service with many users leaves them: a few each, some done, some in the trash, and statistics
    that say so."""
    deleted_at = timezone.now()
    Task.objects.bulk_create(
        Task(
            user_id=f"user-{n % USERS}",
            title=f"task {n}",
            completed=n % 3 == 0,
            deleted_at=deleted_at if n % 10 == 0 else None,
        )
        for n in range(USERS * TASKS_EACH)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_task")


def page_read(client: APIClient, path: str) -> tuple[str, list[Any]]:
    """The statement that reads a page of tasks for ``path``, as the API sends it, and its parameters."""
    sent: list[tuple[str, list[Any]]] = []

    def spy(execute: Any, statement: str, params: Any, many: bool, context: Any) -> Any:
        sent.append((statement, list(params or ())))
        return execute(statement, params, many, context)

    with connection.execute_wrapper(spy):
        response = client.get(path)
    assert response.status_code == 200, response.content
    [read] = [(statement, params) for statement, params in sent if '"tasks_task"' in statement and "LIMIT" in statement]
    return read


def plan(statement: str, params: list[Any], mode: str) -> str:
    """PostgreSQL's plan for ``statement`` prepared on this connection, as ``plan_cache_mode`` ``mode`` makes it."""
    numbers = itertools.count(1)
    prepared = re.sub("%s", lambda _: f"${next(numbers)}", statement)
    values = sql.SQL(", ").join(sql.Literal(value) for value in params)
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL plan_cache_mode = {mode}")
        cursor.execute(f"PREPARE page_read AS {prepared}")
        try:
            cursor.execute(sql.SQL("EXPLAIN EXECUTE page_read ({})").format(values).as_string(cursor.connection))
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE page_read")


LISTS = {  # a list's path under BASE, and the index its page is read from in order
    "": "task_user_live_created_idx",
    "?completed=false": "task_user_live_completed_idx",
    "?completed=true&ordering=-completed_at": "task_user_live_done_at_idx",
    "?deleted=true": "task_user_deleted_idx",
    "changes/": "task_user_change_seq_idx",
}


def test_each_list_page_reads_its_index_in_order_without_sorting_its_owners_tasks(
    many_users: None, alice: APIClient
) -> None:
    for title, completed, deleted_at in [("open", False, None), ("done", True, None), ("gone", False, timezone.now())]:
        Task.objects.create(user_id=ALICE, title=title, completed=completed, deleted_at=deleted_at)

    plans = {
        (path, mode): plan(*page_read(alice, BASE + path), mode)
        for path in LISTS
        for mode in ("force_generic_plan", "force_custom_plan")
    }

    wrong = {key: read for key, read in plans.items() if LISTS[key[0]] not in read or "Sort" in read}
    assert wrong == {}, "\n\n".join(f"{path} ({mode}):\n{read}" for (path, mode), read in wrong.items())
