"""Every write to tasks, shared by the API, the admin and any later entry point.

Each is one transaction around one statement: an INSERT, or an UPDATE … RETURNING whose WHERE holds the
precondition (If-Match), so a check and the write it guards see the same row. The transaction is what takes
a write back when the row it returns cannot be read. Each write bumps the task's version (tasks/models.py sees
to it).

Subtasks add to that, in the same transaction: a write that places a task under a parent (a create or an update with
a parent_id, a restore) first locks its owner and checks the tree's rules (tasks/tree.py); deleting a task deletes
its live subtasks with it, restoring it restores them, completing it completes them. A parent's counts and version
follow by themselves (the triggers of migration 0008), whichever of these wrote its subtasks.
Recurring tasks are the exception: what completing one, or changing its rule, zone or due date, writes depends on
its series (tasks/recurrence.py), computed in Python from the row, read and locked first (``_write``). A task
without a rule still takes one statement for every write.

Positions (tasks/positions.py) add one rule: no two live tasks of a list at one place (unique indexes). A move reads
its neighbours and writes under its owner's lock, so moves happen one after the other; a restore decides its places
under the same lock; a new task, or one that changes lists, is put at the top of its list by the write itself
(tasks/models.py: database_places_tasks), under the lock every write of a task takes (migration 0007's trigger).
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import datetime
from typing import Any

from django.db import OperationalError, transaction
from django.db.models import Case, CharField, Exists, F, Max, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Greatest
from django.db.models.lookups import IsNull
from django.http import Http404
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, ValidationError

from common.errors import PreconditionFailed
from common.idempotency import LOCK_NOT_AVAILABLE

from . import recurrence, tree
from .conditional import IfMatch
from .models import MISSING, Task, TaskChangeCounter, TaskQuerySet
from .positions import POSITION_MAX_LENGTH, REBALANCE_LENGTH, key_before, key_between, keys_after

# The fields a recurring task's series decides what a write of them does; a change of the last three starts it again.
SERIES_FIELDS = {"completed", "recurrence", "timezone", "due_date"}
RESTARTING = ("recurrence", "timezone", "due_date")
NOT_A_SIBLING = (
    "Not another live task in the list this one goes to: give the id of a task of yours that is not deleted, under "
    "the same parent, next to which this one should go."
)
# A rebalance rewrites a list in UPDATEs of at most this many tasks, each a CASE over their ids.
REBALANCE_CHUNK = 500


@transaction.atomic
def task_create(*, user_id: str, **fields: Any) -> Task:
    """A new task; under ``parent_id`` when given, if the rules allow it there (else ``tree.InvalidParent``)."""
    parent_id = fields.get("parent_id")
    if parent_id is not None:
        _check(parent_problem(user_id=user_id, parent_id=parent_id))
    if fields.get("recurrence") is not None:
        completed = fields.pop("completed", False)
        fields = _series_write(Task(user_id=user_id), fields, completed=completed)
    return Task.objects.create(user_id=user_id, **fields)


@transaction.atomic
def task_update(*, tasks: TaskQuerySet, if_match: IfMatch | None = None, **changes: Any) -> Task:
    """Write ``changes`` (and only them: a concurrent change of another field stays) to the one task ``tasks``
    names, and return it as stored; ``Http404`` when there is none.

    Every change of a task's parent comes here: a ``parent_id`` of a task is checked first (``tree.InvalidParent``),
    under its owner's lock; null (the top level) is always allowed.
    """
    if changes.get("parent_id") is not None:
        _place(tasks if if_match is None else if_match.filter(tasks), changes["parent_id"])
    changed = _write(tasks, if_match, changes)
    if not changed:
        raise Http404
    return changed[0]


def parent_problem(*, user_id: str, parent_id: int, task_id: int | None = None) -> tree.InvalidParent | None:
    """Why the task ``task_id`` (with its live subtasks), or a new task of ``user_id``, cannot go under
    ``parent_id``; None when it can. Locks the owner until the transaction ends, so that the answer holds until the
    write it is for (the admin's form asks before its save, as the services do before theirs)."""
    tree.lock_owners([user_id])
    placed = tree.NEW_TASK if task_id is None else tree.subtree(task_id)
    return tree.placement_problem(user_id=user_id, parent_id=parent_id, placed=placed, moving=task_id)


def _place(tasks: TaskQuerySet, parent_id: int) -> None:
    """Check that the task ``tasks`` names may move under ``parent_id``. No task to move: nothing to check (the write
    finds none either)."""
    found = tasks.values_list("pk", "user_id").first()
    if found is not None:
        _check(parent_problem(user_id=found[1], parent_id=parent_id, task_id=found[0]))


def _check(problem: tree.InvalidParent | None) -> None:
    if problem is not None:
        raise problem


def task_soft_delete(*, tasks: TaskQuerySet, if_match: IfMatch | None = None) -> Task:
    """Hide the task from its owner; support staff can still see and restore it."""
    return task_update(tasks=tasks.live(), if_match=if_match, deleted_at=timezone.now())


@transaction.atomic
def task_set_completed(*, tasks: TaskQuerySet, completed: bool | None, if_match: IfMatch | None = None) -> list[Task]:
    """Set ``completed`` on the one task ``tasks`` names, or flip it when None, and return it as changed (an empty
    list when there is none): concurrent flips are never lost, each one negating the value it finds.

    Completing a recurring task moves it to its next occurrence (``_series_write``).
    """
    if completed is None:
        return _write(tasks, if_match, {}, flip=True)
    return _write(tasks, if_match, {"completed": completed})


@transaction.atomic
def tasks_set_completed(*, tasks: TaskQuerySet, completed: bool) -> list[Task]:
    """``task_set_completed`` for many tasks at once (the admin's actions); returns them as changed."""
    # All locked first, so that none gets or loses a rule between the two writes below.
    list(tasks.select_for_update().values_list("pk", flat=True))
    changed = _cascade(tasks.filter(recurrence__isnull=True).update_returning(completed=completed), completed=completed)
    for task in tasks.filter(recurrence__isnull=False).order_by("pk"):
        changed += _series_update(task, {}, completed=completed)
    return changed


@transaction.atomic
def tasks_soft_delete(*, tasks: TaskQuerySet) -> list[Task]:
    """``task_soft_delete`` for many live tasks at once; returns them with ``deleted_at`` set."""
    now = timezone.now()
    return _cascade(tasks.live().update_returning(deleted_at=now), deleted_at=now)


@transaction.atomic
def tasks_restore(*, tasks: TaskQuerySet, if_match: IfMatch | None = None) -> list[Task]:
    """Bring soft-deleted tasks back to their owners, each with the subtasks deleted with it (the same deleted_at);
    returns them with ``deleted_at`` cleared.

    A task goes back under its parent when the parent is live and the tree's rules allow it there; otherwise (its
    parent deleted or purged since, or the tree grown too deep or too large meanwhile) to the top level. A restore
    never fails for its parent's sake.
    """
    tasks = tasks.deleted()
    chosen = tasks if if_match is None else if_match.filter(tasks)
    tree.lock_owners(chosen.values("user_id"))
    # Read under the lock: whether a live task of its list holds its place, with it.
    found = list(
        chosen.annotate(place_taken=_place_taken()).values_list(
            "pk", "user_id", "parent_id", "deleted_at", "position", "place_taken"
        )
    )
    if not found:
        if if_match is not None and tasks.exists():
            raise PreconditionFailed()
        return []
    subtrees = {pk: tree.subtree(pk, deleted_at=deleted_at) for pk, _, _, deleted_at, *_ in found}
    restored = {id_ for placed in subtrees.values() for id_ in placed.ids}
    top_level = [
        pk
        for pk, user_id, parent_id, *_ in found
        # A parent restored alongside (support selected both) is not checked: it was their parent when deleted.
        if parent_id is not None
        and parent_id not in restored
        and tree.placement_problem(user_id=user_id, parent_id=parent_id, placed=subtrees[pk], moving=None)
    ]
    named = [pk for pk, *_ in found]
    # The subtasks first, so that the tasks' own rows, read back by the last statement, hold their counts as they end.
    # They keep their places: no live task can have joined them under a parent deleted with them.
    Task.objects.filter(pk__in=restored.difference(named)).update(deleted_at=None)
    parent = Case(When(pk__in=top_level, then=Value(None)), default=F("parent_id")) if top_level else F("parent_id")
    # "" (the top of its list) for a task that goes to another list, or whose place a live task has taken.
    to_top = set(top_level) | _places_taken([task for task in found if task[0] not in top_level])
    top = When(pk__in=to_top, then=Value(""))
    position = Case(top, default=F("position"), output_field=CharField()) if to_top else F("position")
    return Task.objects.filter(pk__in=named).update_returning(deleted_at=None, parent_id=parent, position=position)


def _place_taken() -> Exists:
    """Whether a live task of its list holds the place of a deleted task (as a subquery on it)."""
    same_parent = Q(parent_id=OuterRef("parent_id")) | (Q(parent__isnull=True) & IsNull(OuterRef("parent_id"), True))
    return Exists(Task.objects.live().filter(same_parent, user_id=OuterRef("user_id"), position=OuterRef("position")))


def _places_taken(found: list[tuple[Any, ...]]) -> set[int]:
    """Those of ``found`` (deleted tasks going back to the list they were in: id, owner, parent, deleted_at, position,
    whether a live task holds it) whose place is not theirs to take back: a live task of their list holds it, one of
    them before holds it too, or they never had one (a key "" on SQLite)."""
    losing, chosen = set(), set()
    for pk, user_id, parent_id, _, position, taken in sorted(found):
        place = (user_id, parent_id, position)
        if taken or place in chosen or not position:
            losing.add(pk)
        chosen.add(place)
    return losing


@transaction.atomic
def task_move(
    *,
    tasks: TaskQuerySet,
    before: int | None = None,
    after: int | None = None,
    parent_id: Any = MISSING,
    if_match: IfMatch | None = None,
) -> Task:
    """Put the one task ``tasks`` names right before the live sibling ``before``, or right after ``after``, or (with
    ``parent_id``, an id or None) under another parent: next to one of its subtasks, or at their top. Returns the task
    as stored; ``Http404`` when there is no such task, ``tree.InvalidParent`` when the parent breaks a rule, a
    ``ValidationError`` naming ``before`` or ``after`` when that is not another live task of the list the task goes to
    (whoever's it is: the answer tells nothing of other users).

    One row written: the task gets a key between its new neighbours' (tasks/positions.py). The task is locked
    first, as every single write locks its row before the owner's change counter, then the counter, so that moves
    happen one after the other and each reads neighbours no other write is changing.
    """
    if (before is not None and after is not None) or (before is None and after is None and parent_id is MISSING):
        raise ValueError("Give at most one of before and after, and a parent_id without either.")
    task = tasks.live().select_for_update().first()
    if task is None:
        raise Http404
    if if_match is not None:
        if_match.check(task)
    tree.lock_owners([task.user_id])
    changes = {}
    if parent_id is not MISSING and parent_id != task.parent_id:
        if parent_id is not None:
            _check(parent_problem(user_id=task.user_id, parent_id=parent_id, task_id=task.pk))
        changes["parent_id"] = task.parent_id = parent_id  # the list it goes to, from here on
    staying = not changes
    position = _position_in_list(task, before=before, after=after, staying=staying)
    if len(position) > POSITION_MAX_LENGTH:
        # Rebalances that could not run have let keys grow this long: this one runs now, or the move fails (a 503
        # while a sibling is being written, to retry) rather than write a key past the column's bound.
        _rebalance(Task.objects.siblings_of(task), threshold=0)
        task.position = Task.objects.filter(pk=task.pk).values_list("position", flat=True).get()
        position = _position_in_list(task, before=before, after=after, staying=staying)
    elif len(position) > REBALANCE_LENGTH:
        # After the move commits, in a transaction of its own: the move's answer does not wait for its list's rows.
        transaction.on_commit(functools.partial(list_rebalance, task=task), robust=True)
    return Task.objects.filter(pk=task.pk).update_returning(position=position, **changes)[0]


def _position_in_list(task: Task, *, before: int | None, after: int | None, staying: bool) -> str:
    """The key that puts ``task`` next to ``before`` or ``after`` in the list it is in (``staying``) or goes to: its
    own when it is there already; without either, its own in its list, the top of another."""
    others = Task.objects.siblings_of(task).exclude(pk=task.pk)
    if before is None and after is None:
        return task.position if staying else key_before(others.first_position())
    name, anchor = ("before", before) if before is not None else ("after", after)
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
    if staying and (lower is None or lower < task.position) and (upper is None or task.position < upper):
        return task.position
    return key_between(lower, upper)


def list_rebalance(*, task: Task) -> int:
    """Give the list ``task`` is in short keys again, in its order, if one of its keys is longer than
    REBALANCE_LENGTH; returns how many tasks it rewrote.

    Run after a move that made such a key commits (task_move). It takes the owner's lock, then each sibling's row
    without waiting: a sibling that another transaction is writing at that moment would have it wait for the lock
    this holds, so rather than deadlock it gives up, and the next move that makes a long key tries again.
    """
    try:
        with transaction.atomic():
            tree.lock_owners([task.user_id])
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


def _write(tasks: TaskQuerySet, if_match: IfMatch | None, changes: dict[str, Any], *, flip: bool = False) -> list[Task]:
    """Write ``changes`` (and flip ``completed`` when ``flip``) to the one task ``tasks`` names.

    A task without a rule that gets none is written in one statement. A recurring one (or one getting a rule) whose
    completion, rule, zone or due date the write touches is read and locked, and ``_series_write`` computes what
    the write makes of it.
    """
    if not flip and not changes.keys() & SERIES_FIELDS:
        return _update(tasks, if_match, **changes)
    if changes.get("recurrence") is None:
        plain = {**changes, "completed": ~F("completed")} if flip else changes
        changed = _update(tasks.filter(recurrence__isnull=True), if_match, **plain)
        if changed:
            return changed
    task = tasks.select_for_update().first()
    if task is None:
        return []
    if if_match is not None:
        if_match.check(task)
    changes = dict(changes)
    completed = not task.completed if flip else changes.pop("completed", None)
    return _series_update(task, changes, completed=completed)


def _series_update(task: Task, changes: dict[str, Any], *, completed: bool | None) -> list[Task]:
    """Write to the locked ``task`` what ``_series_write`` makes of ``changes``. A task this completes for good (its
    series over) completes its open subtasks, as any task does; one that moves to its next occurrence stays open,
    and so do they."""
    values = _series_write(task, changes, completed=completed)
    changed = Task.objects.filter(pk=task.pk).update_returning(**values)
    if values["completed"] and not task.completed:
        return _cascade(changed, completed=True, completed_now={task.pk})
    return changed


def _series_write(task: Task, changes: dict[str, Any], *, completed: bool | None) -> dict[str, Any]:
    """The fields a write of ``changes``, and of ``completed`` (None: untouched), sets on ``task`` (locked, or not
    yet created), computed from its series. README, "Recurring tasks", says the rules in words.

    - A change of the rule, the zone or the due date (to another value) starts the series again: at the due date
      sent, else the current one (now for a task without one), its first occurrence becoming the due date.
    - Completing an open recurring task records the completion (``completed_at``, ``completions``) and moves it
      to the first occurrence after both its due date and now; with none left, it is completed for good.
    - A task without a rule has a completion time exactly when it is completed, as tasks/models.py keeps it.
    """
    now = timezone.now()
    values = dict(changes)
    rule = values.get("recurrence", task.recurrence)
    zone = values.get("timezone", task.timezone)
    series = None
    if rule is not None:
        restarted = any(name in changes and changes[name] != getattr(task, name) for name in RESTARTING)
        if restarted or not task.series_wall_time or task.due_date is None:
            series = recurrence.start(rule, zone, values.get("due_date", task.due_date) or now)
        else:
            series = recurrence.Occurrence(task.due_date, task.series_wall_time, task.series_left)
    done, done_at = task.completed, task.completed_at
    if completed is False:
        done, done_at = False, None if task.completed else done_at
    elif completed and not task.completed:
        done, done_at = True, now
        if series is not None:
            values["completions"] = task.completions + 1
            following = recurrence.following(rule, zone, series, now)
            done, series = following is None, following or series
    values |= {"completed": done, "completed_at": done_at if done or rule is not None else None}
    if series is None:
        return values | {"series_wall_time": "", "series_left": None}
    return values | {"due_date": series.due, "series_wall_time": series.wall, "series_left": series.left}


def _update(tasks: TaskQuerySet, if_match: IfMatch | None, **changes: Any) -> list[Task]:
    """One UPDATE … RETURNING of ``tasks``, of those still matching ``if_match`` when one is given. Only when it
    changes nothing under a precondition is the task read again, to tell a stale ETag (412) from no task."""
    changed = (tasks if if_match is None else if_match.filter(tasks)).update_returning(**changes)
    if not changed and if_match is not None and tasks.exists():
        raise PreconditionFailed()
    return _cascade(changed, **changes)


def _cascade(changed: list[Task], *, completed_now: Collection[int] = (), **changes: Any) -> list[Task]:
    """What writing ``changes`` to tasks does to their subtasks at every level, in the same transaction, and the
    tasks as they are after it (their counts changed with their subtasks).

    Deleting a task deletes its live subtasks with it, stamped with its very deleted_at (which is how a restore knows
    them); completing a task completes its open ones. Reopening a task reopens none. A task without live subtasks
    (``subtasks_total`` 0, the common case) costs nothing more. The subtasks are one UPDATE, of at most a tree's
    size (API_MAX_TASK_TREE_SIZE), whose triggers give each of them and each parent a new version and change number.
    ``completed_now``: tasks the caller knows this write completed (a series' end, which ``_became_completed`` cannot
    tell from its row).
    """
    if changes.get("deleted_at") is not None:
        parents = [task.pk for task in changed if task.subtasks_total]
        cascade = {"deleted_at": changes["deleted_at"]}
    elif "completed" in changes:
        completing = [task for task in changed if task.pk in completed_now or _became_completed(task)]
        parents = [task.pk for task in completing if task.subtasks_total]
        cascade = {"completed": True}
    else:
        return changed
    if not parents:  # the common case, with no statement and no queryset built
        return changed
    # Only the subtasks the change would change (a completed one is left as it is, completed_at and all).
    below = Task.objects.filter(pk__in=tree.descendants(parents)).exclude(**cascade)
    if not below.update(**cascade):
        return changed
    stored = Task.objects.in_bulk([task.pk for task in changed])
    return [stored[task.pk] for task in changed]


def _became_completed(task: Task) -> bool:
    """Whether this write completed the task, rather than found it completed (a PUT of a completed task's title,
    which must not complete the subtasks reopened since). Only a write that completes a task sets completed_at, and
    to the time it sets updated_at (TaskQuerySet)."""
    return task.completed and task.completed_at == task.updated_at


@transaction.atomic
def tasks_purge(*, tasks: TaskQuerySet) -> int:
    """Hard-delete ``tasks``, live or in the trash; returns how many (support staff's delete of one task).

    A live one is soft-deleted first, so that its change number is its owner's newest: the owner's counter then
    records the newest number purged, and a change feed cursor from before it, which may have missed the
    deletion, gets a 410 that makes its client start over (tasks/changes.py).
    """
    now = timezone.now()
    _cascade(tasks.live().update_returning(deleted_at=now), deleted_at=now)
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
    # A purged task's subtasks still here are in the trash (deleted with it or before): to the top level, where a
    # restore would put them anyway.
    Task.objects.filter(parent__in=tasks).exclude(pk__in=tasks).update(parent=None)
    deleted = tasks.delete()[0]
    for user_id, seq in sorted(newest):  # in one order, so that two purges cannot deadlock on the counters
        TaskChangeCounter.objects.filter(pk=user_id).update(purged_seq=Greatest(F("purged_seq"), seq))
    return deleted
