"""Every write to tasks, shared by the API, the admin and any later entry point.

Each is one transaction around one statement: an INSERT, or an UPDATE … RETURNING whose WHERE holds the
precondition (If-Match), so a check and the write it guards see the same row. The transaction is what takes
a write back when the row it returns cannot be read. Each write bumps the task's version (tasks/models.py sees
to it).

Positions (tasks/positions.py) add one rule: no two live tasks of a list at one place (a unique index). A move reads
its neighbours and writes under its owner's change counter lock, which every write of the user's tasks takes (the
triggers of migration 0007), so moves happen one after the other; a create is placed by the INSERT itself, under the
same lock (tasks/models.py). A restore writes at once, the common case costing nothing more; one that meets the index
(a live task took the place meanwhile) is taken back and made again under the lock, where it cannot meet it twice.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Case, F, Max, OuterRef, Subquery, Value, When
from django.db.models.functions import Greatest
from django.http import Http404
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, ValidationError

from common.errors import PreconditionFailed
from common.idempotency import LOCK_NOT_AVAILABLE

from .conditional import IfMatch
from .models import Task, TaskChangeCounter, TaskQuerySet
from .positions import POSITION_MAX_LENGTH, REBALANCE_LENGTH, key_before, key_between, keys_after

POSITION_UNIQUE = "task_user_live_position_uniq"
NOT_A_SIBLING = (
    "Not another live task in the same list as this one: give the id of a task of yours that is not deleted, "
    "next to which this one should go."
)
# A rebalance rewrites a list in UPDATEs of at most this many tasks, each a CASE over their ids.
REBALANCE_CHUNK = 500


def _position_taken(error: IntegrityError) -> bool:
    """Whether ``error`` is the position index refusing a second live task at one place."""
    constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
    # SQLite names the columns instead ("UNIQUE constraint failed: tasks_task.user_id, tasks_task.position").
    return constraint == POSITION_UNIQUE or (constraint is None and "tasks_task.position" in str(error))


def lock_owner(user_id: str) -> None:
    """Lock the user's change counter until the transaction ends: every write of the user's tasks takes it too (the
    triggers of migration 0007), so no position in their lists changes meanwhile. Only PostgreSQL takes row locks;
    SQLite has one writer at a time anyway. A user without a counter has no task yet, and so no list to change."""
    list(TaskChangeCounter.objects.filter(pk=user_id).select_for_update().values_list("pk"))


@transaction.atomic
def task_create(*, user_id: str, **fields: Any) -> Task:
    """A new task, at the top of its list (tasks/models.py: database_places_new_tasks)."""
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


def tasks_restore(*, tasks: TaskQuerySet, if_match: IfMatch | None = None) -> list[Task]:
    """Bring soft-deleted tasks back to their owners; returns them with ``deleted_at`` cleared.

    Each goes back to the place it had, unless a live task of its list has taken it meanwhile: then to the top. One
    UPDATE, in a transaction of its own (a savepoint inside another); only when the position index refuses it, because
    a place was taken, is it taken back and each task restored on its own, under its owner's lock.
    """
    try:
        with transaction.atomic():
            return _update(tasks.deleted(), if_match, deleted_at=None)
    except IntegrityError as error:
        if not _position_taken(error):
            raise
    with transaction.atomic():
        restored = []
        for task in tasks.deleted().order_by("user_id", "pk"):
            lock_owner(task.user_id)
            siblings = Task.objects.siblings_of(task)
            place = {"position": _top(siblings)} if siblings.filter(position=task.position).exists() else {}
            restored += _update(tasks.deleted().filter(pk=task.pk), if_match, deleted_at=None, **place)
        return restored


@transaction.atomic
def task_move(
    *, tasks: TaskQuerySet, before: int | None = None, after: int | None = None, if_match: IfMatch | None = None
) -> Task:
    """Put the one task ``tasks`` names right before the live sibling ``before``, or right after ``after``, and
    return it as stored; ``Http404`` when there is no such task, a ``ValidationError`` naming ``before`` or ``after``
    when that is not another live task of its list (whoever's it is: the answer tells nothing of other users).

    One row written: the task gets a key between its new neighbours' (tasks/positions.py). The task is locked
    first, as every single write locks its row before the counter, then the owner's counter, so that moves happen
    one after the other and each reads neighbours no other write is changing.
    """
    if (before is None) == (after is None):
        raise ValueError("Give exactly one of before and after.")
    task = tasks.live().select_for_update().first()
    if task is None:
        raise Http404
    if if_match is not None:
        if_match.check(task)
    lock_owner(task.user_id)
    position = _position_next_to(task, before=before, after=after)
    if len(position) > POSITION_MAX_LENGTH:
        # Rebalances that could not run have let keys grow this long: this one runs now, or the move fails (a 503
        # while a sibling is being written, to retry) rather than write a key past the column's bound.
        _rebalance(Task.objects.siblings_of(task), threshold=0)
        task.refresh_from_db(fields=["position"])
        position = _position_next_to(task, before=before, after=after)
    elif len(position) > REBALANCE_LENGTH:
        # After the move commits, in a transaction of its own: the move's answer does not wait for its list's rows.
        transaction.on_commit(functools.partial(list_rebalance, task=task), robust=True)
    return Task.objects.filter(pk=task.pk).update_returning(position=position)[0]


def _position_next_to(task: Task, *, before: int | None, after: int | None) -> str:
    """The key that puts ``task`` next to its sibling ``before`` or ``after``: its own when it is there already."""
    name, anchor = ("before", before) if before is not None else ("after", after)
    others = Task.objects.siblings_of(task).exclude(pk=task.pk)
    if before is not None:  # between the anchor and the sibling before it
        neighbour = others.filter(position__lt=OuterRef("position")).order_by("-position")
    else:  # between the anchor and the sibling after it
        neighbour = others.filter(position__gt=OuterRef("position")).order_by("position")
    found = (
        others.filter(pk=anchor)
        .annotate(neighbour=Subquery(neighbour.values("position")[:1]))
        .values_list("position", "neighbour")
        .first()
    )
    if found is None:
        raise ValidationError({name: [ErrorDetail(NOT_A_SIBLING, code="not_a_sibling")]})
    anchor_position, neighbour_position = found
    if before is not None:
        lower, upper = neighbour_position, anchor_position
    else:
        lower, upper = anchor_position, neighbour_position
    if (lower is None or lower < task.position) and (upper is None or task.position < upper):
        return task.position
    return key_between(lower, upper)


def _top(siblings: TaskQuerySet) -> str:
    return key_before(siblings.first_position())


def list_rebalance(*, task: Task) -> int:
    """Give the list ``task`` is in short keys again, in its order, if one of its keys is longer than
    REBALANCE_LENGTH; returns how many tasks it rewrote.

    Run after a move that made such a key commits (task_move). It takes the owner's lock, then each sibling's row
    without waiting: a sibling that another transaction is writing at that moment would have it wait for the lock
    this holds, so rather than deadlock it gives up, and the next move that makes a long key tries again.
    """
    try:
        with transaction.atomic():
            lock_owner(task.user_id)
            return _rebalance(Task.objects.siblings_of(task), threshold=REBALANCE_LENGTH)
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        return 0


def _rebalance(siblings: TaskQuerySet, *, threshold: int) -> int:
    """Rewrite every one of ``siblings`` (a list, its owner locked) with consecutive short keys, in their order,
    if one of their keys is longer than ``threshold``. One transaction (the caller's); each task written gets a new
    version and change number, as any write. Raises the database's lock error if a sibling is being written."""
    tasks = list(siblings.order_by("position").select_for_update(nowait=True).values_list("pk", "position"))
    if not tasks or max(len(position) for _, position in tasks) <= threshold:
        return 0
    # All after the list's greatest key, so none of them is taken while the rows are rewritten one by one.
    placed = list(zip((pk for pk, _ in tasks), keys_after(tasks[-1][1], len(tasks)), strict=True))
    for start in range(0, len(placed), REBALANCE_CHUNK):
        chunk = placed[start : start + REBALANCE_CHUNK]
        Task.objects.filter(pk__in=[pk for pk, _ in chunk]).update(
            position=Case(*(When(pk=pk, then=Value(key)) for pk, key in chunk))
        )
    return len(tasks)


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
