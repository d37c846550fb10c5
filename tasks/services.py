"""Every write to tasks, shared by the API, the admin and any later entry point.

Each is one transaction, which takes its lock and checks its precondition (If-Match) inside, so a check
and the write it guards see the same row. Each bumps the task's version (tasks/models.py sees to it).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from .conditional import IfMatch
from .models import Task, TaskQuerySet
from .tags import tag_keys


@transaction.atomic
def task_create(*, user_id: str, **fields: Any) -> Task:
    return Task.objects.create(user_id=user_id, **fields)


@transaction.atomic
def task_update(*, task: Task, if_match: IfMatch | None = None, **changes: Any) -> Task:
    """Write ``changes`` (and only them: a concurrent change of another field stays) over ``task`` as read.

    The UPDATE is conditional on the version read: it takes the row's lock and re-checks under it that no one
    wrote since, so the common case costs that one statement. If someone did, the row is locked and read
    again, and the precondition and the changes apply to what it holds now.
    """
    if if_match is not None:
        if_match.check(task)
    now = timezone.now()
    if not Task.objects.filter(pk=task.pk, version=task.version).update(**changes, updated_at=now):
        was_live = task.deleted_at is None
        try:
            task.refresh_from_db(from_queryset=Task.objects.select_for_update())
        except Task.DoesNotExist:
            raise Http404 from None
        if was_live and task.deleted_at is not None:
            raise Http404  # deleted meanwhile: as if the write had come after the delete
        if if_match is not None:
            if_match.check(task)
        Task.objects.filter(pk=task.pk).update(**changes, updated_at=now)
    for field, value in changes.items():
        setattr(task, field, value)
    task.tag_keys, task.updated_at, task.version = tag_keys(task.tags), now, task.version + 1
    return task


def task_soft_delete(*, task: Task, if_match: IfMatch | None = None) -> Task:
    """Hide the task from its owner; support staff can still see and restore it."""
    return task_update(task=task, if_match=if_match, deleted_at=timezone.now())


@transaction.atomic
def task_set_completed(*, tasks: TaskQuerySet, completed: bool | None, if_match: IfMatch | None = None) -> list[Task]:
    """Set ``completed`` on ``tasks``, or flip it when None, and return them as changed.

    One statement, UPDATE … RETURNING, so concurrent flips are never lost. Under a precondition the
    tasks are locked and checked first.
    """
    if if_match is not None:
        for task in tasks.select_for_update():
            if_match.check(task)
    return tasks.set_completed_returning(completed)


@transaction.atomic
def tasks_soft_delete(*, tasks: TaskQuerySet) -> list[Task]:
    """``task_soft_delete`` for many live tasks at once; returns them with ``deleted_at`` set."""
    return _locked_update(tasks.live(), deleted_at=timezone.now())


@transaction.atomic
def tasks_restore(*, tasks: TaskQuerySet) -> list[Task]:
    """Bring soft-deleted tasks back to their owners; returns them with ``deleted_at`` cleared."""
    return _locked_update(tasks.filter(deleted_at__isnull=False), deleted_at=None)


def _locked_update(tasks: TaskQuerySet, **changes: Any) -> list[Task]:
    # Locked first, so that the tasks returned are exactly the ones changed; stamped here, so that they are
    # returned with the updated_at the rows now hold.
    changes = {"updated_at": timezone.now(), **changes}
    locked = list(tasks.select_for_update())
    tasks.update(**changes)
    for task in locked:
        for field, value in changes.items():
            setattr(task, field, value)
        task.forget_version()  # bumped by the database
    return locked
