"""Every write to tasks, shared by the API, the admin and any later entry point.

Each is one transaction around one statement: an INSERT, or an UPDATE … RETURNING whose WHERE holds the
precondition (If-Match), so a check and the write it guards see the same row. The transaction is what takes
a write back when the row it returns cannot be read. Each write bumps the task's version (tasks/models.py sees
to it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.db.models.functions import Greatest
from django.http import Http404
from django.utils import timezone

from common.errors import PreconditionFailed

from .conditional import IfMatch
from .models import Task, TaskChangeCounter, TaskQuerySet


@transaction.atomic
def task_create(*, user_id: str, **fields: Any) -> Task:
    return Task.objects.create(user_id=user_id, **fields)


@transaction.atomic
def task_update(*, tasks: TaskQuerySet, if_match: IfMatch | None = None, **changes: Any) -> Task:
    """Write ``changes`` (and only them: a concurrent change of another field stays) to the one task ``tasks``
    names, and return it as stored; ``Http404`` when there is none."""
    changed = _update(tasks, if_match, **changes)
    if not changed:
        raise Http404
    return changed[0]


def task_soft_delete(*, tasks: TaskQuerySet, if_match: IfMatch | None = None) -> Task:
    """Hide the task from its owner; support staff can still see and restore it."""
    return task_update(tasks=tasks.live(), if_match=if_match, deleted_at=timezone.now())


@transaction.atomic
def task_set_completed(*, tasks: TaskQuerySet, completed: bool | None, if_match: IfMatch | None = None) -> list[Task]:
    """Set ``completed`` on ``tasks``, or flip it when None, and return them as changed: concurrent flips
    are never lost, each one negating the value its own statement finds."""
    return _update(tasks, if_match, completed=~F("completed") if completed is None else completed)


@transaction.atomic
def tasks_soft_delete(*, tasks: TaskQuerySet) -> list[Task]:
    """``task_soft_delete`` for many live tasks at once; returns them with ``deleted_at`` set."""
    return tasks.live().update_returning(deleted_at=timezone.now())


@transaction.atomic
def tasks_restore(*, tasks: TaskQuerySet, if_match: IfMatch | None = None) -> list[Task]:
    """Bring soft-deleted tasks back to their owners; returns them with ``deleted_at`` cleared."""
    return _update(tasks.deleted(), if_match, deleted_at=None)


def _update(tasks: TaskQuerySet, if_match: IfMatch | None, **changes: Any) -> list[Task]:
    """One UPDATE … RETURNING of ``tasks``, of those still matching ``if_match`` when one is given. Only when it
    changes nothing under a precondition is the task read again, to tell a stale ETag (412) from no task."""
    changed = (tasks if if_match is None else if_match.filter(tasks)).update_returning(**changes)
    if not changed and if_match is not None and tasks.exists():
        raise PreconditionFailed()
    return changed


@transaction.atomic
def tasks_purge(*, tasks: TaskQuerySet) -> int:
    """Hard-delete ``tasks``, live or in the trash; returns how many (support staff's delete of one task).

    A live one is soft-deleted first, so that its change number is its owner's newest: the owner's counter then
    records the newest number purged, and a change feed cursor from before it, which may have missed the
    deletion, gets a 410 that makes its client start over (tasks/changes.py).
    """
    tasks.live().update(deleted_at=timezone.now())
    return _purge(tasks)


@transaction.atomic
def tasks_purge_deleted(*, deleted_before: datetime, limit: int) -> int:
    """Hard-delete up to ``limit`` tasks soft-deleted before ``deleted_before``; returns how many.

    A short transaction each, called until it returns 0 (purge_deleted_tasks): a large purge never holds
    many locks for long.
    """
    # Locked, so that a restore meanwhile either waits and finds the task gone, or went first and keeps it out;
    # tasks another transaction holds are left for the next run rather than waited for.
    doomed = list(
        Task.objects.filter(deleted_at__lt=deleted_before)
        .order_by("deleted_at", "id")
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)[:limit]
    )
    return _purge(Task.objects.filter(pk__in=doomed)) if doomed else 0


def _purge(tasks: TaskQuerySet) -> int:
    # Each owner's counter records the newest change purged, below which a change feed cursor may have missed a
    # tombstone (tasks/changes.py answers it 410).
    newest = list(tasks.order_by().values("user_id").annotate(seq=Max("change_seq")).values_list("user_id", "seq"))
    deleted = tasks.delete()[0]
    for user_id, seq in sorted(newest):  # in one order, so that two purges cannot deadlock on the counters
        TaskChangeCounter.objects.filter(pk=user_id).update(purged_seq=Greatest(F("purged_seq"), seq))
    return deleted
