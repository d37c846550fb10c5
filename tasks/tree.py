"""Subtasks: where a task may hang in its owner's tree of tasks, and how a subtree is found.

A task's parent is null (a top-level task) or a live task of the same user. A top-level task with its subtasks at
every level is a tree of at most ``API_MAX_TASK_DEPTH`` levels and ``API_MAX_TASK_TREE_SIZE`` live tasks; no task is
its own ancestor. The services (tasks/services.py) keep these rules on every write that places a task, and the
database keeps each task's subtask counts (migration 0008).

A placement is checked with its owner's change counter row locked (``lock_owners``) before the check reads anything,
until the transaction that writes the placement commits. Every write of the user's tasks takes that lock too
(migration 0007's trigger), so no concurrent write can change the tree between a check and its write: two moves at
once cannot each pass their check and together make a cycle or outgrow a bound.

The walks below are recursive CTEs (PostgreSQL and SQLite alike) whose UNION drops rows already found: a walk ends
even on a cycle made by hand in SQL, and costs at most the rows it finds, which the bounds above keep small.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from rest_framework.exceptions import ErrorDetail, ValidationError

from .models import MAX_ID, Task, TaskChangeCounter

TABLE = Task._meta.db_table


class InvalidParent(ValidationError):
    """A ``parent_id`` that would break a rule: a 400 naming it, as the API answers, with ``reason`` and ``message``
    for the admin's form."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__({"parent_id": [ErrorDetail(message, code=reason)]})
        self.reason, self.message = reason, message


def not_found() -> InvalidParent:
    # The same answer for another user's task, a deleted one and an id no task has: it tells nothing of other users.
    return InvalidParent(
        "does_not_exist",
        "You have no live task with this id: give the id of one of your tasks that is not deleted, or null for none.",
    )


def cycle() -> InvalidParent:
    return InvalidParent(
        "cycle", "A task cannot be a subtask of itself or of one of its own subtasks: choose a task outside them."
    )


def too_deep(levels: int) -> InvalidParent:
    most = settings.API_MAX_TASK_DEPTH
    return InvalidParent(
        "too_deep",
        f"Subtasks nest at most {most} levels deep (a top-level task is level 1): under this parent the task and its "
        f"subtasks would reach level {levels}. Choose a parent higher up.",
    )


def too_many(tasks: int) -> InvalidParent:
    most = settings.API_MAX_TASK_TREE_SIZE
    return InvalidParent(
        "too_many_subtasks",
        f"A top-level task and its subtasks at every level are at most {most} tasks: under this parent there would be "
        f"at least {tasks}. Choose another parent, or delete some of these tasks.",
    )


def lock_owners(user_ids: Iterable[str] | QuerySet[Task]) -> None:
    """Lock these users' change counters (ids, or a ``values("user_id")`` of tasks), in one order so that no two
    callers deadlock on them, until the transaction ends. Only PostgreSQL takes row locks; SQLite has one writer at
    a time anyway. A user without a counter has no task yet, and so none to place anything under."""
    list(TaskChangeCounter.objects.filter(pk__in=user_ids).order_by("pk").select_for_update().values_list("pk"))


@dataclass(frozen=True)
class Subtree:
    """A task and the subtasks below it: their ids (the task's first) and how many levels they make (1: the task)."""

    ids: list[int]
    height: int

    @property
    def size(self) -> int:
        return len(self.ids)


# A task about to be created: one task, one level, no id yet (none is 0, so no walk leaves anything out for it).
NEW_TASK = Subtree([0], 1)


def subtree(task_id: int, *, deleted_at: datetime | None = None) -> Subtree:
    """The task and its live subtasks at every level; or, given ``deleted_at``, those deleted with it (at that very
    time: one deletion of a subtree stamps all its tasks alike)."""
    same_state = "t.deleted_at IS NULL" if deleted_at is None else "t.deleted_at = %s"
    sql = f"""
        WITH RECURSIVE sub(id, parent_id) AS (
            SELECT id, parent_id FROM {TABLE} WHERE id = %s
            UNION
            SELECT t.id, t.parent_id FROM {TABLE} t JOIN sub ON t.parent_id = sub.id WHERE {same_state}
        )
        SELECT id, parent_id FROM sub
    """
    with connection.cursor() as cursor:
        # As the ORM would send it: SQLite compares its stored text, which Python's own adapter would not write.
        when = [] if deleted_at is None else [connection.ops.adapt_datetimefield_value(deleted_at)]
        cursor.execute(sql, [task_id, *when])
        rows = cursor.fetchall()
    children: dict[int, list[int]] = {}
    for id_, parent_id in rows:
        if id_ != task_id:
            children.setdefault(parent_id, []).append(id_)
    # Level by level from the task: its ids in that order, and the number of levels.
    ids, level, height = [], [task_id], 0
    while level:
        ids += level
        height += 1
        level = [child for id_ in level for child in children.pop(id_, [])]
    return Subtree(ids, height)


def descendants(parent_ids: list[int], *, live: bool = True) -> RawSQL:
    """The subtasks at every level of these tasks, as a subquery of ids (``pk__in=``): the live ones, below live
    subtasks; or, not ``live``, all of them, deleted or not."""
    placeholders = ", ".join(["%s"] * len(parent_ids)) or "NULL"  # none: no subtasks
    state = "t.deleted_at IS NULL" if live else "TRUE"
    return RawSQL(
        f"""
        WITH RECURSIVE sub(id) AS (
            SELECT id FROM {TABLE} t WHERE parent_id IN ({placeholders}) AND {state}
            UNION
            SELECT t.id FROM {TABLE} t JOIN sub ON t.parent_id = sub.id WHERE {state}
        )
        SELECT id FROM sub
        """,
        parent_ids,
    )


def placement_problem(*, user_id: str, parent_id: int, placed: Subtree, moving: int | None) -> InvalidParent | None:
    """Why ``placed`` (a task and its subtasks) cannot hang under ``parent_id``, or None when it can.

    ``moving`` is the id of a live task being moved (``placed`` is its live subtree): its subtree is counted once,
    wherever it hangs now. One statement, which reads the parent's ancestors (as many as the depth) and its tree
    (counted up to one past API_MAX_TASK_TREE_SIZE), whatever the data.
    """
    if not 1 <= parent_id <= MAX_ID:
        return not_found()
    # The parent and its ancestors (up); then the live tree they are in, from its top (down), leaving out the moving
    # task's subtree, counted until it is known to be too large.
    sql = f"""
        WITH RECURSIVE up(id, parent_id) AS (
            SELECT id, parent_id FROM {TABLE} WHERE id = %s AND user_id = %s AND deleted_at IS NULL
            UNION
            SELECT t.id, t.parent_id FROM {TABLE} t JOIN up ON t.id = up.parent_id
        ), down(id) AS (
            SELECT id FROM up WHERE parent_id IS NULL
            UNION
            SELECT t.id FROM {TABLE} t JOIN down ON t.parent_id = down.id WHERE t.deleted_at IS NULL AND t.id <> %s
        )
        SELECT id, parent_id, (SELECT count(*) FROM (SELECT id FROM down LIMIT %s) AS capped) FROM up
    """
    most = settings.API_MAX_TASK_TREE_SIZE
    with connection.cursor() as cursor:
        cursor.execute(sql, [parent_id, user_id, moving or 0, most + 1])
        ancestors = cursor.fetchall()
    if not ancestors:
        return not_found()
    # A walk up that meets the moving task, or never reaches a top-level task, goes round in a circle.
    if moving in {id_ for id_, _, _ in ancestors} or all(parent is not None for _, parent, _ in ancestors):
        return cycle()
    levels = len(ancestors) + placed.height
    if levels > settings.API_MAX_TASK_DEPTH:
        return too_deep(levels)
    tasks = ancestors[0][2] + placed.size
    if tasks > most:
        return too_many(tasks)
    return None
