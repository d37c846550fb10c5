"""Each route's database cost is fixed, whatever the data. Counts leave out a write's transaction
statements (in tests a SAVEPOINT and its RELEASE), which are checked separately: reads have none."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import ALICE
from tasks import services
from tasks.conditional import etag_for
from tasks.models import Task

BASE = f"/api/{ALICE}/tasks/"
TRANSACTION = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")


class Statements(list):
    @property
    def transaction(self) -> list[str]:
        return [sql for sql in self if sql.startswith(TRANSACTION)]

    @property
    def work(self) -> list[str]:
        return [sql for sql in self if not sql.startswith(TRANSACTION)]


@contextmanager
def statements(*, atomic: bool = True) -> Iterator[Statements]:
    captured = Statements()
    with CaptureQueriesContext(connection) as context:
        yield captured
    captured.extend(query["sql"] for query in context.captured_queries)
    # A write is one transaction, opened and released; a read runs outside any.
    assert len(captured.transaction) == (2 if atomic else 0), captured.transaction


@pytest.fixture
def task(make_task: Callable[..., Task]) -> Task:
    return make_task(tags=["work"])


@pytest.mark.parametrize("page_size", [1, 50, 200])
def test_a_list_page_costs_the_change_counter_a_count_and_a_select(alice: APIClient, page_size: int) -> None:
    Task.objects.bulk_create(Task(user_id=ALICE, title=f"task {n}", tags=["work"]) for n in range(page_size))

    with statements(atomic=False) as done:
        response = alice.get(f"{BASE}?limit={page_size}&tag=work&ordering=-priority")

    assert len(response.json()["results"]) == page_size
    assert len(done.work) == 3, done.work
    assert "tasks_taskchangecounter" in done.work[0], done.work  # for the list's ETag


def test_an_unchanged_list_is_a_304_reading_only_the_change_counter(alice: APIClient, task: Task) -> None:
    etag = alice.get(f"{BASE}?ordering=title")["ETag"]

    with statements(atomic=False) as done:
        response = alice.get(f"{BASE}?ordering=title", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert len(done.work) == 1 and "tasks_taskchangecounter" in done.work[0], done.work


def test_a_change_feed_call_with_nothing_new_reads_only_the_change_counter(alice: APIClient, task: Task) -> None:
    cursor = alice.get(f"{BASE}changes/").json()["cursor"]

    with statements(atomic=False) as done:
        response = alice.get(f"{BASE}changes/", {"since": cursor})

    assert response.json() == {"changed": [], "deleted": [], "cursor": cursor, "has_more": False}
    assert len(done.work) == 1 and "tasks_taskchangecounter" in done.work[0], done.work
    assert '"tasks_task"' not in done.work[0]


def test_a_change_feed_call_with_changes_is_the_counter_and_one_select(alice: APIClient, task: Task) -> None:
    cursor = alice.get(f"{BASE}changes/").json()["cursor"]
    alice.patch(f"{BASE}{task.id}/", {"title": "Changed"})

    with statements(atomic=False) as done:
        response = alice.get(f"{BASE}changes/", {"since": cursor})

    assert [change["title"] for change in response.json()["changed"]] == ["Changed"]
    assert len(done.work) == 2, done.work


def test_retrieve_is_one_select(alice: APIClient, task: Task) -> None:
    with statements(atomic=False) as done:
        assert alice.get(f"{BASE}{task.id}/").status_code == 200

    assert len(done.work) == 1, done.work


def test_create_is_one_insert(alice: APIClient, task: Task) -> None:
    with statements() as done:
        assert alice.post(BASE, {"title": "New", "tags": ["a", "b"]}).status_code == 201

    # A new task goes to the top of its list: PostgreSQL's INSERT places it itself, SQLite's list is read first.
    assert [sql.split()[0] for sql in done.work] == (
        ["INSERT"] if connection.vendor == "postgresql" else ["SELECT", "INSERT"]
    ), done.work


@pytest.mark.parametrize("body", [None, {"completed": True}])
def test_complete_is_one_update_returning_the_task(alice: APIClient, task: Task, body: dict | None) -> None:
    with statements() as done:
        assert alice.patch(f"{BASE}{task.id}/complete/", body).status_code == 200

    assert len(done.work) == 1, done.work
    assert done.work[0].startswith("UPDATE") and "RETURNING" in done.work[0]


@pytest.mark.parametrize(("method", "body"), [("put", {"title": "New"}), ("patch", {"tags": ["x"]})])
def test_an_update_is_one_update_returning_the_task(alice: APIClient, task: Task, method: str, body: dict) -> None:
    with statements() as done:
        assert getattr(alice, method)(f"{BASE}{task.id}/", body).status_code == 200

    assert len(done.work) == 1, done.work
    assert done.work[0].startswith("UPDATE") and "RETURNING" in done.work[0], done.work


@pytest.mark.parametrize(("method", "body"), [("put", {"title": "New"}), ("patch", {"tags": ["x"]}), ("delete", None)])
def test_a_write_under_if_match_is_a_select_and_one_update_conditional_on_the_version(
    alice: APIClient, task: Task, method: str, body: dict | None
) -> None:
    with statements() as done:
        response = getattr(alice, method)(f"{BASE}{task.id}/", body, HTTP_IF_MATCH=etag_for(task))
        assert response.status_code in (200, 204)

    assert [sql.split()[0] for sql in done.work] == ["SELECT", "UPDATE"], done.work
    assert "FOR UPDATE" not in done.work[0] and '"version" =' in done.work[1], done.work


def test_a_delete_is_a_select_and_one_update(alice: APIClient, task: Task) -> None:
    with statements() as done:
        assert alice.delete(f"{BASE}{task.id}/").status_code == 204

    assert [sql.split()[0] for sql in done.work] == ["SELECT", "UPDATE"], done.work


def test_complete_with_if_match_is_one_update_conditional_on_the_version(alice: APIClient, task: Task) -> None:
    with statements() as done:
        assert alice.patch(f"{BASE}{task.id}/complete/", HTTP_IF_MATCH=etag_for(task)).status_code == 200

    assert len(done.work) == 1, done.work
    assert "RETURNING" in done.work[0] and '"version" =' in done.work[0], done.work


def test_a_trash_page_costs_the_change_counter_a_count_and_a_select(alice: APIClient) -> None:
    Task.objects.bulk_create(Task(user_id=ALICE, title=f"task {n}", deleted_at=timezone.now()) for n in range(50))

    with statements(atomic=False) as done:
        response = alice.get(f"{BASE}?deleted=true&search=task&ordering=-completed_at")

    assert len(response.json()["results"]) == 50
    assert len(done.work) == 3, done.work
    assert "tasks_taskchangecounter" in done.work[0], done.work  # for the list's ETag


@pytest.mark.parametrize("if_match", [False, True])
def test_restore_is_the_owners_lock_a_read_of_the_task_and_its_subtree_and_one_update_returning(
    alice: APIClient, task: Task, if_match: bool
) -> None:
    Task.objects.filter(pk=task.pk).update(deleted_at=timezone.now())
    task.refresh_from_db()
    headers = {"HTTP_IF_MATCH": etag_for(task)} if if_match else {}

    with statements() as done:
        assert alice.post(f"{BASE}{task.id}/restore/", **headers).status_code == 200

    # The subtasks deleted with it come back too, in one UPDATE more when there are some (tasks/tests/test_subtasks.py).
    assert [sql.split()[0] for sql in done.work] == ["SELECT", "SELECT", "WITH", "UPDATE"], done.work
    assert "tasks_taskchangecounter" in done.work[0] and "RETURNING" in done.work[-1], done.work


@pytest.fixture
def recurring(db: None) -> Task:
    return services.task_create(user_id=ALICE, title="Water", due_date=timezone.now(), recurrence="FREQ=DAILY")


@pytest.mark.parametrize(
    ("url", "body"), [("complete/", None), ("complete/", {"completed": True}), ("", {"completed": True})]
)
def test_completing_a_recurring_task_is_an_update_that_finds_none_then_a_locked_read_and_an_update(
    alice: APIClient, recurring: Task, url: str, body: dict | None
) -> None:
    with statements() as done:
        assert alice.patch(f"{BASE}{recurring.id}/{url}", body).status_code == 200

    # The one-statement write of a task without a rule finds none; the series is computed from the locked row.
    assert [sql.split()[0] for sql in done.work] == ["UPDATE", "SELECT", "UPDATE"], done.work
    assert '"recurrence" IS NULL' in done.work[0], done.work
    # SQLite has one writer at a time, and no FOR UPDATE.
    assert done.work[1].endswith("FOR UPDATE") or connection.vendor == "sqlite", done.work


def test_a_change_of_another_field_of_a_recurring_task_is_one_update(alice: APIClient, recurring: Task) -> None:
    with statements() as done:
        assert alice.patch(f"{BASE}{recurring.id}/", {"title": "Water the garden", "tags": ["x"]}).status_code == 200

    assert len(done.work) == 1 and done.work[0].startswith("UPDATE") and "RETURNING" in done.work[0], done.work


def test_a_move_locks_the_task_and_its_owner_reads_its_neighbours_and_writes_one_row(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    tasks = [make_task(title=f"task {n}") for n in range(50)]

    with statements() as done:
        assert alice.post(f"{BASE}{tasks[0].id}/move/", {"before": tasks[20].id}).status_code == 200

    assert [sql.split()[0] for sql in done.work] == ["SELECT", "SELECT", "SELECT", "UPDATE"], done.work
    assert "tasks_taskchangecounter" in done.work[1] and "RETURNING" in done.work[3], done.work
    if connection.vendor == "postgresql":
        assert all(sql.endswith("FOR UPDATE") for sql in done.work[:2]), done.work


def test_creating_a_recurring_task_is_one_insert(alice: APIClient) -> None:
    with statements() as done:
        response = alice.post(BASE, {"title": "Water", "recurrence": "FREQ=DAILY", "timezone": "Europe/Berlin"})
        assert response.status_code == 201

    # As any create: on SQLite, its list's top is read first (test_create_is_one_insert).
    assert [sql.split()[0] for sql in done.work] == (
        ["INSERT"] if connection.vendor == "postgresql" else ["SELECT", "INSERT"]
    ), done.work
