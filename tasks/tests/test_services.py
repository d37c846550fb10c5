"""The services called directly: each write is one transaction, checks its precondition and bumps the version."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from common.errors import PreconditionFailed
from conftest import ALICE
from tasks import services
from tasks.conditional import IfMatch, etag_for
from tasks.models import Task, TaskQuerySet


@pytest.fixture
def task(make_task: Callable[..., Task]) -> Task:
    return make_task(title="Original", description="as read", tags=["work"])


def fresh(task: Task) -> Task:
    return Task.objects.get(pk=task.pk)


def live(task: Task) -> TaskQuerySet:
    """The task as the API names it to a service: by id, among the live tasks."""
    return Task.objects.live().filter(pk=task.pk)


SERVICES: dict[str, Callable[[Task], Any]] = {
    "create": lambda task: services.task_create(user_id=ALICE, title="New", tags=["a"]),
    "update": lambda task: services.task_update(tasks=live(task), title="Changed"),
    "soft delete": lambda task: services.task_soft_delete(tasks=live(task)),
    "set completed": lambda task: services.task_set_completed(tasks=live(task), completed=True),
    "flip completed": lambda task: services.task_set_completed(tasks=live(task), completed=None),
    "soft delete many": lambda task: services.tasks_soft_delete(tasks=live(task)),
    "restore many": lambda task: services.tasks_restore(tasks=Task.objects.filter(pk=task.pk)),
}


@pytest.mark.parametrize("service", SERVICES, ids=list(SERVICES))
def test_each_service_is_one_transaction_around_one_statement(task: Task, service: str) -> None:
    if service == "restore many":
        services.task_soft_delete(tasks=live(task))

    with CaptureQueriesContext(connection) as context:
        SERVICES[service](task)

    statements = [query["sql"] for query in context.captured_queries]
    # In a test the outermost atomic is the test's own, so a service's transaction shows as a savepoint.
    assert statements[0].startswith("SAVEPOINT") and statements[-1].startswith("RELEASE SAVEPOINT"), statements
    if service == "restore many":
        # A restore brings back the subtasks deleted with the task, and puts it under its parent only if the rules
        # still allow it (tasks/tree.py): the owner's lock, then the task and its subtree read, then written.
        assert [sql.split()[0] for sql in statements[1:-1]] == ["SELECT", "SELECT", "WITH", "UPDATE"], statements
        assert "FOR UPDATE" in statements[1] or connection.vendor == "sqlite", statements
        return
    work = statements[1:-1]
    if service == "create" and connection.vendor != "postgresql":
        # A new task goes to the top of its list: SQLite's is read first (PostgreSQL's INSERT reads it itself).
        assert work[0].startswith("SELECT") and "ORDER BY" in work[0] and "LIMIT 1" in work[0], statements
        work = work[1:]
    # Finding, checking and writing in one statement: nothing can come between them.
    assert len(work) == 1 and work[0].startswith(("INSERT", "UPDATE")), statements


@pytest.mark.parametrize("service", ["update", "soft delete", "set completed", "flip completed"])
def test_each_service_bumps_the_version_once(task: Task, service: str) -> None:
    SERVICES[service](task)

    assert fresh(task).version == 2


def test_a_new_task_starts_at_version_1(db: None) -> None:
    assert fresh(services.task_create(user_id=ALICE, title="New")).version == 1


def test_restore_bumps_the_version(task: Task) -> None:
    services.task_soft_delete(tasks=live(task))

    services.tasks_restore(tasks=Task.objects.filter(pk=task.pk))

    assert fresh(task).version == 3


def stale_if_match(task: Task) -> IfMatch:
    """An If-Match for the task as it was before someone else's change."""
    if_match = IfMatch.parse(etag_for(task))
    services.task_update(tasks=live(task), description="someone else's change")
    return if_match


CONDITIONAL: dict[str, Callable[[Task, IfMatch], Any]] = {
    "update": lambda task, if_match: services.task_update(tasks=live(task), if_match=if_match, title="Mine"),
    "soft delete": lambda task, if_match: services.task_soft_delete(tasks=live(task), if_match=if_match),
    "set completed": lambda task, if_match: services.task_set_completed(
        tasks=live(task), completed=True, if_match=if_match
    ),
}


@pytest.mark.parametrize("service", CONDITIONAL)
def test_an_if_match_mismatch_raises_and_changes_nothing(task: Task, service: str) -> None:
    if_match = stale_if_match(task)
    before = fresh(task)

    with pytest.raises(PreconditionFailed):
        CONDITIONAL[service](task, if_match)

    after = fresh(task)
    assert [getattr(after, field.attname) for field in Task._meta.fields] == [
        getattr(before, field.attname) for field in Task._meta.fields
    ]


@pytest.mark.parametrize("service", CONDITIONAL)
def test_the_current_etag_or_a_star_passes(make_task: Callable[..., Task], service: str) -> None:
    for header in ("current", "*"):
        task = make_task()
        CONDITIONAL[service](task, IfMatch.parse(etag_for(task) if header == "current" else "*"))

        assert fresh(task).version == 2, header


def test_an_update_rechecks_if_match_on_the_row_as_it_is_when_locked(task: Task) -> None:
    # Read and checked, then changed by someone else before the write: the early check passed on the copy read,
    # the one under the lock must refuse it.
    as_read = fresh(task)
    services.task_update(tasks=live(task), description="someone else's change")

    with pytest.raises(PreconditionFailed):
        services.task_update(tasks=live(as_read), if_match=IfMatch.parse(etag_for(as_read)), title="Mine")

    assert (fresh(task).title, fresh(task).description) == ("Original", "someone else's change")


def test_an_update_over_a_change_made_since_reading_keeps_that_change(task: Task) -> None:
    as_read = fresh(task)
    services.task_update(tasks=live(task), description="someone else's change")

    written = services.task_update(tasks=live(as_read), title="Mine")

    stored = fresh(task)
    assert (stored.title, stored.description, stored.version) == ("Mine", "someone else's change", 3)
    # What the service returns is the row as stored: an ETag on it is the row's.
    assert (written.title, written.description, etag_for(written)) == (
        "Mine",
        "someone else's change",
        etag_for(stored),
    )


def test_an_update_of_a_task_deleted_since_reading_is_not_found_and_changes_nothing(task: Task) -> None:
    as_read = fresh(task)
    services.task_soft_delete(tasks=live(task))
    before = fresh(task)

    with pytest.raises(Http404):
        services.task_update(tasks=live(as_read), title="Mine")

    assert (fresh(task).title, fresh(task).version) == ("Original", before.version)


def test_an_update_writes_the_tags_keys_too(task: Task) -> None:
    services.task_update(tasks=live(task), tags=["Home"])

    assert list(Task.objects.tagged(["HOME"])) == [task]
    assert not Task.objects.tagged(["work"]).exists()


def test_etags_are_equal_exactly_when_task_and_version_are(make_task: Callable[..., Task]) -> None:
    first, second = make_task(), make_task()

    assert etag_for(fresh(first)) == etag_for(fresh(first))
    assert etag_for(first) != etag_for(second)  # same version, another task
    before = etag_for(fresh(first))
    services.task_update(tasks=live(first))  # a write that changes no field still makes a new version
    assert etag_for(fresh(first)) != before


# The model keeps the version and the tag keys whatever ORM write changes a task.


def test_saving_a_task_makes_a_new_version_counted_by_the_database(task: Task) -> None:
    stale = fresh(task)
    services.task_update(tasks=live(task), description="someone else's change")

    stale.title = "Saved over"
    stale.save()

    # From the stored version, not the copy's: an older copy never reuses a version (and so an ETag).
    assert (stale.version, fresh(task).version) == (3, 3)


def test_a_queryset_update_makes_a_new_version_and_keeps_the_tag_keys(task: Task) -> None:
    live(task).update(tags=["Home"])

    assert fresh(task).version == 2
    assert list(Task.objects.tagged(["home"])) == [task]


def test_a_bulk_update_makes_a_new_version_and_keeps_the_tag_keys(task: Task) -> None:
    task.tags = ["Home"]

    Task.objects.bulk_update([task], ["tags"])

    assert (task.version, fresh(task).version) == (2, 2)
    assert list(Task.objects.tagged(["home"])) == [task]


def test_bulk_created_tasks_are_found_by_their_tags(db: None) -> None:
    [task] = Task.objects.bulk_create([Task(user_id=ALICE, title="Bulk", tags=["Home"])])

    assert list(Task.objects.tagged(["home"])) == [task]


def test_saving_only_the_tags_keeps_their_keys(task: Task) -> None:
    task.tags = ["Home"]

    task.save(update_fields=["tags"])

    assert list(Task.objects.tagged(["home"])) == [task]


def test_a_task_without_a_rule_written_from_its_locked_row_keeps_its_completion_rule(db: None) -> None:
    # The path a task takes when it lost its rule between the one-statement write and the lock.
    open_task = Task(user_id=ALICE, title="Once")

    completed = services._series_write(open_task, {}, completed=True)
    reopened = services._series_write(
        Task(user_id=ALICE, completed=True, completed_at=completed["completed_at"]), {}, completed=False
    )

    assert completed["completed"] is True and completed["completed_at"] is not None
    assert (reopened["completed"], reopened["completed_at"]) == (False, None)
    assert completed["series_wall_time"] == "" and completed["series_left"] is None


def test_a_bulk_created_recurring_task_keeps_the_completion_time_it_was_given(db: None) -> None:
    moment = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    [task] = Task.objects.bulk_create(
        [Task(user_id=ALICE, title="Water", recurrence="FREQ=DAILY", due_date=moment, completed_at=moment)]
    )

    assert Task.objects.get(pk=task.pk).completed_at == moment
