"""A user's task. Users live in the sign-in service; a task knows its owner only by id."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, models, router
from django.db.models import Expression, F, Func, OrderBy, Q, Value, sql
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from authjwt.tokens import USER_ID_MAX_LENGTH

from .positions import POSITION_MAX_LENGTH, key_before, keys_before
from .recurrence import DEFAULT_ZONE, RULE_MAX_LENGTH, ZONE_MAX_LENGTH, validate_rule, validate_zone
from .tags import tag_key, tag_keys, validate_tags


class Priority(models.IntegerChoices):
    """Stored as a rank so that ordering by priority means ordering by importance."""

    LOW = 1, "low"
    MEDIUM = 2, "medium"
    HIGH = 3, "high"


DATETIME, CHAR = models.DateTimeField(), models.CharField()


def completed_at_sql(completed: bool | Expression, now: datetime) -> Expression | None:
    """What ``completed_at`` becomes when a row's ``completed`` is set to ``completed`` (a value, or an
    expression flipping it): kept when the task was completed already, ``now`` when it becomes so, cleared when
    it is reopened. As SQL, on the row as it is: an UPDATE's SET reads the old values. A task has a completion
    time exactly when it is completed (every write keeps it so), which is what makes these expressions enough."""
    if completed is False:
        return None
    if completed is True:
        return Coalesce(F("completed_at"), Value(now))
    # A flip: NULL for a task that was completed. A template, not Case and When, which cost more CPU to build and
    # compile on every toggle than the rest of its UPDATE (bench/NOTES.md); the time is still a value Django prepares.
    return Func(Value(now), template='CASE WHEN NOT "completed" THEN %(expressions)s END', output_field=DATETIME)


class NullsLastIndex(models.Index):
    """An index in the order of an ``ORDER BY … NULLS LAST``, which PostgreSQL reads without sorting. SQLite cannot
    say NULLS LAST in an index (only in an ORDER BY), so there it is the same index without it."""

    def create_sql(self, model: type[models.Model], schema_editor: Any, using: str = "", **kwargs: Any) -> Any:
        if schema_editor.connection.vendor != "sqlite":
            return super().create_sql(model, schema_editor, using, **kwargs)
        plain = [
            OrderBy(part.expression, descending=part.descending) if isinstance(part, OrderBy) else part
            for part in self.expressions
        ]
        index = models.Index(*plain, name=self.name, condition=self.condition)
        return index.create_sql(model, schema_editor, using, **kwargs)


def database_places_tasks(alias: str) -> bool:
    """Whether the database itself puts a task written with position "" (a new task, or one that changed lists) at
    the top of its list. PostgreSQL does, in the very INSERT or UPDATE (a trigger of migration 0010, which reads the
    top of the list under the owner's change counter lock, so that concurrent creates never read the same top). On
    SQLite, which has one writer at a time, Task.save() and bulk_create() read the top first, and update_returning()
    places what it wrote with "" after."""
    return connections[alias].vendor == "postgresql"


class PositionField(models.CharField):
    """A fractional key (tasks/positions.py), ordered by its bytes on every database: PostgreSQL compares it under the
    "C" collation rather than the database's linguistic one (which would put "a" before "B", and so disagree with
    the clients that sort by it); SQLite's default collation is bytewise already."""

    def db_parameters(self, connection: Any) -> dict[str, Any]:
        parameters = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            parameters["collation"] = "C"
        return parameters


class TaskQuerySet(models.QuerySet):
    """Tasks; its writes, like Task.save(), keep the derived columns in step: version, updated_at, tag keys,
    completed_at, and the position of a task that changes lists.

    Only raw SQL can bypass them.
    """

    def live(self) -> TaskQuerySet:
        return self.filter(deleted_at__isnull=True)

    def deleted(self) -> TaskQuerySet:
        """The trash: soft-deleted tasks, which their owners can list and restore."""
        return self.filter(deleted_at__isnull=False)

    def owned_by(self, user_id: str) -> TaskQuerySet:
        return self.filter(user_id=user_id)

    def of(self, user_id: str, *, trash: bool = False) -> TaskQuerySet:
        """What a user sees: their live tasks, or their trash. One filter, as every API request builds it."""
        return self.filter(user_id=user_id, deleted_at__isnull=not trash)

    def one_of(self, user_id: str, pk: int | str) -> Task | None:
        """``Task.objects.of(user_id).filter(pk=pk).first()``: the live task a URL names, or None; called on
        the manager. Django builds and compiles a queryset anew each time it runs: for this read, which every request
        naming a task makes, that was half of the ORM's CPU (bench/NOTES.md). Here the ORM writes the SQL of ``of()``
        once per process and database, and each call runs it with its own values."""
        pk = int(pk)
        if not 1 <= pk <= MAX_ID:  # the ORM's own answer for an id the column cannot hold, without asking
            return None
        sql, order = _one_of_sql(self.db)
        values = {_USER: user_id, _PK: pk}
        found = self._returned(sql, [values[name] for name in order])
        return found[0] if found else None

    def siblings(self, user_id: str, parent_id: int | None) -> TaskQuerySet:
        """A list that its owner orders by hand (``Task.position``): the user's live tasks under one parent (None:
        the top level). The one place in Python that says which tasks share a list (``Task.list_key`` names the list
        a task is in); PostgreSQL's trigger that places tasks (migration 0010) says it again in SQL, and the position
        indexes follow it."""
        return self.filter(user_id=user_id, parent_id=parent_id, deleted_at__isnull=True)

    def siblings_of(self, task: Task) -> TaskQuerySet:
        """The list ``task`` is in (the task itself included, when it is live)."""
        return self.siblings(*task.list_key)

    def first_position(self) -> str | None:
        """The smallest key among these tasks: one read of the live position index for a list."""
        return self.order_by("position").values_list("position", flat=True).first()

    def tagged(self, tags: Iterable[str]) -> TaskQuerySet:
        """Tasks carrying every one of ``tags``, in any letter case."""
        tasks = self
        for tag in tags:
            tasks = tasks.filter(tag_keys__contains=tag_key(tag))
        return tasks

    def bulk_create(self, objs: Iterable[Task], *args: Any, **kwargs: Any) -> list[Task]:
        objs = list(objs)
        now = timezone.now()
        unplaced: dict[tuple[Any, ...], list[Task]] = {}
        for task in objs:
            task.tag_keys = tag_keys(task.tags)
            task.completed_at = task.completed_at_for(task.completed, now)
            if not task.position and not database_places_tasks(self.db):
                unplaced.setdefault(task.list_key, []).append(task)
        # At the top of their lists, the last one first, as if created one by one (as PostgreSQL's trigger places
        # them, row after row): one read per list.
        for list_key, tasks in unplaced.items():
            keys = keys_before(self.model.objects.siblings(*list_key).first_position(), len(tasks))
            for task, key in zip(reversed(tasks), keys, strict=True):
                task.position = key
        return super().bulk_create(objs, *args, **kwargs)

    def update(self, **fields: Any) -> int:
        """Every UPDATE keeps the derived columns in step (``_with_derived_columns``)."""
        return super().update(**_with_derived_columns(fields))

    def update_returning(self, **fields: Any) -> list[Task]:
        """``update()``, returning the changed tasks as stored, from the same statement (UPDATE … RETURNING).

        One statement finds, checks (its WHERE), changes and reads back the tasks, so a concurrent write can
        neither slip between a read and the write nor be lost, and it costs one round trip. Django's ORM has no
        UPDATE … RETURNING (ticket #32406): the statement is the ORM's own UPDATE, with RETURNING added.
        """
        query = self.query.chain(sql.UpdateQuery)
        query.add_update_values(_with_derived_columns(fields))
        compiler = query.get_compiler(self.db)
        compiler.pre_sql_setup()
        try:
            update, params = compiler.as_sql()
        except EmptyResultSet:  # e.g. an id beyond the column's range: nothing can match
            return []
        quote = connections[self.db].ops.quote_name
        columns = ", ".join(quote(field.column) for field in self.model._meta.concrete_fields)
        changed = self._returned(f"{update} RETURNING {columns}", params)
        if not database_places_tasks(self.db):
            self._place(changed)
        return changed

    def _returned(self, sql: str, params: Sequence[Any]) -> list[Task]:
        """The tasks a statement returns, each row every concrete column in the model's order: what ``raw()`` makes of
        them, without its matching of the cursor's columns to fields by name on every call, which the order makes
        moot (half the CPU of a one-task read; bench/NOTES.md). Values go through the fields' own
        converters (a JSON column's, for the tags), as the ORM's reads do."""
        connection = connections[self.db]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        names, converters = _row_converters(self.db)
        tasks = []
        for row in rows:
            if converters:
                row = list(row)
                for index, (convert, expression) in converters.items():
                    for converter in convert:
                        row[index] = converter(row[index], expression, connection)
            tasks.append(self.model.from_db(self.db, names, row))
        return tasks

    def _place(self, tasks: list[Task]) -> None:
        """Put the tasks written with position "" at the top of their lists, one after the other (where the database
        does not: database_places_tasks). The same write still: their version and updated_at stay as it left them."""
        for task in sorted((task for task in tasks if task.position == ""), key=attrgetter("pk")):
            siblings = self.model.objects.using(self.db).siblings(*task.list_key).exclude(position="")
            task.position = key_before(siblings.first_position())
            models.QuerySet.update(self.model.objects.using(self.db).filter(pk=task.pk), position=task.position)

    def bulk_update(self, objs: Iterable[Task], fields: Iterable[str], *args: Any, **kwargs: Any) -> int:
        objs, fields = list(objs), {*fields, "tag_keys", "version"}
        now, completing = timezone.now(), "completed" in fields
        for task in objs:
            task.tag_keys = tag_keys(task.tags)
            task.version = F("version") + 1
            if completing:
                # From the row, not from this copy of it, which may be older.
                task.completed_at = completed_at_sql(task.completed, now)
        changed = super().bulk_update(objs, {*fields, *(["completed_at"] if completing else [])}, *args, **kwargs)
        for task in objs:
            task.forget_version()
            if completing:
                task.forget_completed_at()
        return changed


# The largest id a task can have (a bigint): a larger id names no task, and is never sent to the database.
MAX_ID = 2**63 - 1
# Stand-ins for a request's values while the ORM writes one_of()'s SQL: each found again in the parameters it returns.
_USER, _PK = "\x00user", MAX_ID


@functools.cache
def _one_of_sql(alias: str) -> tuple[str, tuple[Any, ...]]:
    """one_of()'s SQL for a database, as the ORM writes it, and which stand-in each of its parameters is."""
    return Task.objects.using(alias).of(_USER).filter(pk=_PK).order_by().query.sql_with_params()


@functools.cache
def _row_converters(alias: str) -> tuple[list[str], dict[int, tuple[list[Callable[..., Any]], Expression]]]:
    """A task row's field names, in the model's order, and the converters the ORM applies to its values on a
    database: by column index, as its compiler gives them for a read of every field."""
    fields = Task._meta.concrete_fields
    compiler = Task.objects.using(alias).all().query.get_compiler(alias)
    converters = compiler.get_converters([field.get_col(Task._meta.db_table) for field in fields])
    return [field.attname for field in fields], converters


def _with_derived_columns(fields: dict[str, Any]) -> dict[str, Any]:
    """An UPDATE's ``fields`` with what they imply: a new version, the time of the change, the tags' keys when
    the tags change, the completion time when ``completed`` is set, the top of its new list for a task whose parent
    changes."""
    fields = {"version": F("version") + 1, "updated_at": timezone.now(), **fields}
    if "tags" in fields and "tag_keys" not in fields:  # bulk_update derives them itself
        fields["tag_keys"] = tag_keys(fields["tags"])
    if "completed" in fields and "completed_at" not in fields:  # bulk_update derives it itself
        fields["completed_at"] = completed_at_sql(fields["completed"], fields["updated_at"])
    parent = next((fields[name] for name in ("parent_id", "parent") if name in fields), MISSING)
    if parent is not MISSING and "position" not in fields:
        fields["position"] = new_list_position(parent)
    return fields


MISSING = object()


def new_list_position(parent: Any) -> RawSQL:
    """The position of a task whose parent becomes ``parent`` (an id, a task or None): the one it has when that is
    its parent already, else "", which asks for the top of its new list (database_places_tasks). As SQL, on the row
    as it is: a PUT, which always sends a parent, costs nothing more when the parent stays."""
    if hasattr(parent, "resolve_expression"):
        # parent_id = <expression> is no test of "the same parent" for a task without one (NULL = NULL is not true).
        raise TypeError("A write of an expression as the parent says the position too.")
    # SQL, not Case and When (as completed_at_sql's flip says): a PUT, which always sends a parent, would pay them.
    if parent is None:
        return RawSQL("""CASE WHEN "parent_id" IS NULL THEN "position" ELSE '' END""", (), output_field=CHAR)
    return RawSQL("""CASE WHEN "parent_id" = %s THEN "position" ELSE '' END""", (getattr(parent, "pk", parent),), CHAR)


# Columns only the database's triggers write: a save of a whole task leaves them as they are.
DATABASE_OWNED = {"subtasks_open", "subtasks_total"}


class Task(models.Model):
    user_id = models.CharField(max_length=USER_ID_MAX_LENGTH)
    title = models.CharField(max_length=200)
    description = models.CharField(max_length=1000, blank=True, default="")
    completed = models.BooleanField(default=False)
    priority = models.PositiveSmallIntegerField(choices=Priority, default=Priority.MEDIUM)
    due_date = models.DateTimeField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True, validators=[validate_tags])
    # The tags' keys, derived on save, so that "has all these tags" is a LIKE on SQLite and PostgreSQL alike.
    tag_keys = models.TextField(default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the task was last completed; null while it is open. Kept in step by every write (see TaskQuerySet).
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A recurring task's rule, normalised (tasks/recurrence.py); null for a task that does not recur. Its series is
    # expanded in ``timezone``, and ``completions`` counts the times it was completed. The series' own state, which
    # tasks/services.py keeps with the due date: the current occurrence as wall-clock time in the zone (where the
    # next expansion starts), and how many occurrences COUNT leaves after it.
    recurrence = models.CharField(
        max_length=RULE_MAX_LENGTH, null=True, blank=True, default=None, validators=[validate_rule]
    )
    timezone = models.CharField(
        "time zone",
        max_length=ZONE_MAX_LENGTH,
        default=DEFAULT_ZONE,
        db_default=DEFAULT_ZONE,
        validators=[validate_zone],
    )
    completions = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    series_wall_time = models.CharField(max_length=19, blank=True, default="", db_default="", editable=False)
    series_left = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # Bumped by every write (this model's save() and queryset methods see to it): with the id, the task's ETag.
    version = models.PositiveIntegerField(default=1, db_default=1, editable=False)
    # The task's place in its owner's change feed, set by the database on every INSERT and UPDATE (triggers in
    # migration 0007, so that no write path can skip it): the owner's TaskChangeCounter, bumped under its lock.
    change_seq = models.BigIntegerField(db_default=0, editable=False)
    # A subtask's parent: null, or a live task of the same user (tasks/tree.py holds the rules, services.py keeps
    # them). No ON DELETE: a purge detaches a purged task's subtasks first (services._purge).
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="subtasks", db_index=False
    )
    # The live direct subtasks, open and all, kept by the database (triggers in migration 0008) on every write of a
    # subtask, whatever its path; the same triggers bump the parent's version, since its representation changed.
    subtasks_open = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    subtasks_total = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    # The task's place among its siblings (TaskQuerySet.siblings), a key that sorts byte by byte. "" asks for the
    # top of its list: a new task is created so, and a task that changes lists is written so (TaskQuerySet), and the
    # database (PostgreSQL's trigger) or this model (SQLite) puts the key there: database_places_tasks. Otherwise
    # only services set it (a move, a restore, a rebalance), never a client. Unique among the live tasks of a list; a
    # deleted task keeps its key, which a restore gives back when no live sibling has taken it meanwhile. Read back
    # from every INSERT (a database default makes Django ask for it in RETURNING).
    position = PositionField(max_length=POSITION_MAX_LENGTH, default="", db_default="", editable=False)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The default list: one user's live tasks, newest first.
            models.Index(
                fields=["user_id", "-created_at", "-id"],
                name="task_user_live_created_idx",
                condition=Q(deleted_at__isnull=True),
            ),
            # The same list filtered by completion (the front end's "to do" view).
            models.Index(
                fields=["user_id", "completed", "-created_at", "-id"],
                name="task_user_live_completed_idx",
                condition=Q(deleted_at__isnull=True),
            ),
            # The admin's list: every user's tasks, newest first.
            models.Index(fields=["-created_at", "-id"], name="task_created_idx"),
            # One user's completed tasks, most recently completed first (ordering=-completed_at), and ranges of
            # completion times (completed_after / completed_before).
            NullsLastIndex(
                "user_id",
                "completed",
                F("completed_at").desc(nulls_last=True),
                F("id").desc(),
                name="task_user_live_done_at_idx",
                condition=Q(deleted_at__isnull=True),
            ),
            # The trash (?deleted=true): one user's deleted tasks, newest first, apart from the live ones.
            models.Index(
                fields=["user_id", "-created_at", "-id"],
                name="task_user_deleted_idx",
                condition=Q(deleted_at__isnull=False),
            ),
            # The change feed: one user's tasks, live or deleted, changed after a cursor.
            models.Index(fields=["user_id", "change_seq"], name="task_user_change_seq_idx"),
            # The purge's search for tasks deleted long enough ago, among the few deleted ones.
            models.Index(fields=["deleted_at"], name="task_deleted_idx", condition=Q(deleted_at__isnull=False)),
            # A task's subtasks: its live ones (deleted_at null) or those deleted with it (the same deleted_at).
            models.Index(fields=["parent", "deleted_at"], name="task_parent_idx"),
        ]
        constraints = [
            # No two live tasks of a list at one place, whatever the interleaving of writes: a write that would put
            # one there fails. One index per kind of list (TaskQuerySet.siblings): a user's top-level tasks, and a
            # task's subtasks (its parent's owner is theirs); each also reads its list in order (ordering=position
            # with parent=) and finds its top for a create.
            models.UniqueConstraint(
                fields=["user_id", "position"],
                name="task_user_live_position_uniq",
                condition=Q(deleted_at__isnull=True, parent__isnull=True),
            ),
            models.UniqueConstraint(
                fields=["parent", "position"],
                name="task_parent_live_position_uniq",
                condition=Q(deleted_at__isnull=True, parent__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def list_key(self) -> tuple[Any, ...]:
        """What names the list the task is in: TaskQuerySet.siblings' arguments."""
        return (self.user_id, self.parent_id)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.tag_keys = tag_keys(self.tags)
        updating = not self._state.adding
        if not updating and not self.position and not database_places_tasks(self._write_alias(kwargs)):
            # A new task goes to the top of its list: one indexed read of the list's first key.
            self.position = key_before(Task.objects.siblings_of(self).first_position())
        if updating and kwargs.get("update_fields") is None:
            # Never the subtask counts this copy holds, which may be older than the row's (the triggers own them),
            # nor its position, which a move may have changed since (only the services write it).
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name not in {*DATABASE_OWNED, "position"}
            ]
        update_fields = kwargs.get("update_fields")
        # A recurring task's completion time is its series' to set (tasks/services.py).
        completing = (update_fields is None or "completed" in update_fields) and self.recurrence is None
        if updating:
            # Counted by the database, not from this copy, which may be older than the row.
            self.version = F("version") + 1
            if completing:
                self.completed_at = completed_at_sql(self.completed, timezone.now())
        elif completing:
            self.completed_at = self.completed_at_for(self.completed, timezone.now())
        if update_fields is not None:
            kwargs["update_fields"] = {
                *update_fields,
                "version",
                *(["tag_keys"] if "tags" in update_fields else []),
                *(["completed_at"] if completing else []),
            }
        super().save(*args, **kwargs)
        if updating:
            self.forget_version()
            if completing:
                self.forget_completed_at()

    def _write_alias(self, save_kwargs: dict[str, Any]) -> str:
        return save_kwargs.get("using") or router.db_for_write(type(self), instance=self)

    def completed_at_for(self, completed: bool, now: datetime) -> datetime | None:
        """completed_at_sql()'s rule on this copy of the task, for a row that does not exist yet (a create)."""
        if self.recurrence is not None:
            return self.completed_at  # its series' to set (tasks/services.py)
        if not completed:
            return None
        return self.completed_at if self.completed and self.completed_at is not None else now

    def forget_version(self) -> None:
        """Drop a version the database computed: read again on next use, never a stale number."""
        del self.version

    def forget_completed_at(self) -> None:
        """Likewise for a completion time the database computed."""
        del self.completed_at


class TaskChangeCounter(models.Model):
    """A user's count of task writes, the change feed's clock (tasks/changes.py).

    Written only by the database's triggers, which bump it and copy it into the task written while holding this
    row's lock until commit: a user's writes commit in the order of their numbers, so a reader that has seen
    number N has seen every number below it.
    """

    user_id = models.CharField(max_length=USER_ID_MAX_LENGTH, primary_key=True)
    last_seq = models.BigIntegerField(default=0)
    # The highest change_seq of the user's tasks hard-deleted by purge_deleted_tasks: a cursor below it may
    # have missed their tombstones.
    purged_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.last_seq}"
