"""completed_at: set when a task becomes completed, kept while it stays so, cleared when it is reopened, by every
way of writing a task; filtered and ordered by in lists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.db.models import F
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from conftest import ALICE, BOB
from tasks import services
from tasks.models import Task

BASE = f"/api/{ALICE}/tasks/"
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def completed_at(task: Task) -> datetime | None:
    return Task.objects.values_list("completed_at", flat=True).get(pk=task.pk)


@pytest.fixture
def open_task(make_task: Callable[..., Task]) -> Task:
    return make_task(title="Open")


@pytest.fixture
def done_long_ago(make_task: Callable[..., Task]) -> Task:
    task = make_task(title="Done long ago", completed=True)
    Task.objects.filter(pk=task.pk).update(completed_at=LONG_AGO)
    task.refresh_from_db()
    return task


# The API's writes: each answers with completed_at as stored.

WRITES: dict[str, Callable[[APIClient, Task, bool], Any]] = {
    "put": lambda client, task, done: client.put(f"{BASE}{task.id}/", {"title": task.title, "completed": done}),
    "patch": lambda client, task, done: client.patch(f"{BASE}{task.id}/", {"completed": done}),
    "complete": lambda client, task, done: client.patch(f"{BASE}{task.id}/complete/", {"completed": done}),
}


@pytest.mark.parametrize("write", WRITES)
def test_completing_a_task_stamps_when(alice: APIClient, open_task: Task, write: str) -> None:
    before = datetime.now(UTC)

    response = WRITES[write](alice, open_task, True)

    assert response.status_code == 200, response.content
    stored = completed_at(open_task)
    assert stored is not None and before <= stored <= datetime.now(UTC)
    assert response.json()["completed_at"] == iso(stored)


@pytest.mark.parametrize("write", WRITES)
def test_completing_a_completed_task_keeps_when_it_was_completed(
    alice: APIClient, done_long_ago: Task, write: str
) -> None:
    response = WRITES[write](alice, done_long_ago, True)

    assert response.status_code == 200, response.content
    assert completed_at(done_long_ago) == LONG_AGO
    assert response.json()["completed_at"] == iso(LONG_AGO)


@pytest.mark.parametrize("write", WRITES)
def test_reopening_a_task_clears_when_it_was_completed(alice: APIClient, done_long_ago: Task, write: str) -> None:
    response = WRITES[write](alice, done_long_ago, False)

    assert response.status_code == 200, response.content
    assert completed_at(done_long_ago) is None
    assert response.json()["completed_at"] is None


def test_a_patch_of_other_fields_keeps_when_it_was_completed(alice: APIClient, done_long_ago: Task) -> None:
    response = alice.patch(f"{BASE}{done_long_ago.id}/", {"title": "Renamed"})

    assert response.json()["completed_at"] == iso(LONG_AGO)
    assert completed_at(done_long_ago) == LONG_AGO


def test_a_put_that_leaves_completed_out_reopens_the_task(alice: APIClient, done_long_ago: Task) -> None:
    # PUT is a full replacement: completed returns to its default, false.
    response = alice.put(f"{BASE}{done_long_ago.id}/", {"title": "Replaced"})

    assert response.json()["completed"] is False and response.json()["completed_at"] is None
    assert completed_at(done_long_ago) is None


def test_flipping_stamps_then_clears(alice: APIClient, open_task: Task) -> None:
    url = f"{BASE}{open_task.id}/complete/"

    first = alice.patch(url).json()
    assert first["completed"] is True and first["completed_at"] == iso(completed_at(open_task))
    second = alice.patch(url).json()
    assert second["completed"] is False and second["completed_at"] is None
    assert completed_at(open_task) is None


def test_creating_a_completed_task_stamps_it(alice: APIClient) -> None:
    body = alice.post(BASE, {"title": "Done already", "completed": True}).json()

    assert body["completed_at"] is not None
    assert body["completed_at"] == iso(completed_at(Task.objects.get(pk=body["id"])))
    assert alice.post(BASE, {"title": "To do"}).json()["completed_at"] is None


def test_completed_at_sent_by_a_client_is_ignored(alice: APIClient, open_task: Task) -> None:
    response = alice.patch(f"{BASE}{open_task.id}/", {"completed_at": "2020-01-01T00:00:00Z", "deleted_at": None})

    assert response.status_code == 200
    assert response.json()["completed_at"] is None and completed_at(open_task) is None


def test_a_write_raced_by_another_still_stamps_from_the_row_as_it_is(open_task: Task) -> None:
    # The copy is stale: completed elsewhere meanwhile; completing it again keeps the first time.
    stale = Task.objects.get(pk=open_task.pk)
    services.task_update(tasks=Task.objects.filter(pk=open_task.pk), completed=True)
    first = completed_at(open_task)

    written = services.task_update(tasks=Task.objects.filter(pk=stale.pk), completed=True)

    assert completed_at(open_task) == first
    assert written.completed_at == first


# Writes outside the API: the ORM directly, bulk writes, the admin.


def test_orm_saves_keep_completed_at_in_step(open_task: Task) -> None:
    open_task.completed = True
    open_task.save()
    stamped = completed_at(open_task)
    assert stamped is not None and open_task.completed_at == stamped

    open_task.title = "Renamed"
    open_task.save(update_fields=["title"])
    open_task.save()
    assert completed_at(open_task) == stamped

    open_task.completed = False
    open_task.save(update_fields=["completed"])
    assert completed_at(open_task) is None


def test_queryset_writes_keep_completed_at_in_step(open_task: Task, done_long_ago: Task) -> None:
    Task.objects.filter(pk__in=[open_task.pk, done_long_ago.pk]).update(completed=True)
    assert completed_at(done_long_ago) == LONG_AGO
    stamped = completed_at(open_task)
    assert stamped is not None

    open_task.completed, done_long_ago.completed = False, True
    Task.objects.bulk_update([open_task, done_long_ago], ["completed"])
    assert completed_at(open_task) is None and completed_at(done_long_ago) == LONG_AGO

    [created] = Task.objects.bulk_create([Task(user_id=ALICE, title="Bulk", completed=True)])
    assert completed_at(created) is not None


CHANGELIST = reverse("admin:tasks_task_changelist")


def test_admin_actions_stamp_and_clear_completed_at(support: Client, open_task: Task, done_long_ago: Task) -> None:
    support.post(CHANGELIST, {"action": "mark_complete", "_selected_action": [open_task.pk, done_long_ago.pk]})
    assert completed_at(open_task) is not None and completed_at(done_long_ago) == LONG_AGO

    support.post(CHANGELIST, {"action": "mark_incomplete", "_selected_action": [open_task.pk, done_long_ago.pk]})
    assert completed_at(open_task) is None and completed_at(done_long_ago) is None


def test_the_admin_change_form_stamps_completed_at_and_shows_it(support: Client, open_task: Task) -> None:
    url = reverse("admin:tasks_task_change", args=[open_task.pk])
    form = {
        "title": open_task.title,
        "description": "",
        "completed": "on",
        "priority": open_task.priority,
        "due_date_0": "",
        "due_date_1": "",
        "tags": "",
        "timezone": "UTC",
        "rendered_version": open_task.version,
        "_save": "Save",
    }

    assert support.post(url, form).status_code == 302

    stamped = completed_at(open_task)
    assert stamped is not None
    assert f"{stamped:%Y-%m-%d %H:%M:%S}</" in support.get(url).content.decode()


def test_the_admin_filters_by_completion_time(support: Client, open_task: Task, done_long_ago: Task) -> None:
    recent = services.task_update(tasks=Task.objects.filter(pk=open_task.pk), completed=True)

    def listed(query: str) -> set[int]:
        response = support.get(CHANGELIST + query)
        assert response.status_code == 200
        return {task.id for task in response.context["cl"].result_list}

    assert listed("?completed_at__isnull=True") == set()
    assert listed("?completed_at__isnull=False") == {recent.id, done_long_ago.id}
    # As the filter's own "Past 7 days" link writes it: a moment with its offset.
    week_ago = (datetime.now(UTC) - timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert listed(f"?{urlencode({'completed_at__gte': str(week_ago)})}") == {recent.id}


# Filters and ordering


@pytest.fixture
def completions(make_task: Callable[..., Task]) -> dict[str, Task]:
    tasks = {name: make_task(title=name, completed=name != "open") for name in ("first", "second", "third", "open")}
    for day, name in enumerate(("first", "second", "third"), start=1):
        Task.objects.filter(pk=tasks[name].pk).update(completed_at=datetime(2026, 11, day, tzinfo=UTC))
    return tasks


def titles(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [task["title"] for task in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("completed_after=2026-11-01T00:00:00Z", {"second", "third"}),
        ("completed_before=2026-11-03T00:00:00Z", {"first", "second"}),
        ("completed_after=2026-11-01T00:00:00Z&completed_before=2026-11-03T00:00:00Z", {"second"}),
        ("completed_after=2026-11-02T01:00:00%2B02:00", {"second", "third"}),
        ("completed_before=2030-01-01T00:00:00Z", {"first", "second", "third"}),
    ],
)
def test_completion_bounds_narrow_the_list_and_never_match_open_tasks(
    alice: APIClient, completions: dict[str, Task], query: str, expected: set[str]
) -> None:
    assert set(titles(alice.get(f"{BASE}?{query}"))) == expected


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("completed_at", ["first", "second", "third", "open"]),
        ("-completed_at", ["third", "second", "first", "open"]),
    ],
)
def test_ordering_by_completion_time_puts_open_tasks_last_both_ways(
    alice: APIClient, completions: dict[str, Task], ordering: str, expected: list[str]
) -> None:
    assert titles(alice.get(f"{BASE}?ordering={ordering}")) == expected


def test_bob_never_sees_alices_completions(bob: APIClient, completions: dict[str, Task]) -> None:
    assert titles(bob.get(f"/api/{BOB}/tasks/?completed_after=2000-01-01T00:00:00Z")) == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
def test_one_users_recently_completed_list_reads_an_index(db: None) -> None:
    Task.objects.bulk_create(
        Task(user_id=f"user-{n % 5}", title=f"task {n}", completed=n % 2 == 0) for n in range(10_000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_task")
    # As ?completed=true&ordering=-completed_at asks for it (tasks/filters.py): open tasks last, ties by id.
    query = (
        Task.objects.live()
        .owned_by("user-2")
        .filter(completed=True)
        .order_by(F("completed_at").desc(nulls_last=True), "-id")[:50]
    )

    plan = query.explain()

    # Read in the index's order: no sort of the user's completed tasks, however many.
    assert "task_user_live_done_at_idx" in plan and "Sort" not in plan, plan
