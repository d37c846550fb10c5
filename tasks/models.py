"""A user's task. Users live in the sign-in service; a task knows its owner only by id."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, models
from django.db.models import F, Q
from django.utils import timezone

from authjwt.tokens import USER_ID_MAX_LENGTH

from .tags import tag_key, tag_keys, validate_tags


class Priority(models.IntegerChoices):
    """Stored as a rank so that ordering by priority means ordering by importance."""

    LOW = 1, "low"
    MEDIUM = 2, "medium"
    HIGH = 3, "high"


class TaskQuerySet(models.QuerySet):
    """Tasks; its writes, like Task.save(), keep the derived columns in step: version, updated_at, tag keys.

    Only raw SQL can bypass them (set_completed_returning below maintains them itself).
    """

    def live(self) -> TaskQuerySet:
        return self.filter(deleted_at__isnull=True)

    def owned_by(self, user_id: str) -> TaskQuerySet:
        return self.filter(user_id=user_id)

    def tagged(self, tags: Iterable[str]) -> TaskQuerySet:
        """Tasks carrying every one of ``tags``, in any letter case."""
        tasks = self
        for tag in tags:
            tasks = tasks.filter(tag_keys__contains=tag_key(tag))
        return tasks

    def bulk_create(self, objs: Iterable[Task], *args: Any, **kwargs: Any) -> list[Task]:
        objs = list(objs)
        for task in objs:
            task.tag_keys = tag_keys(task.tags)
        return super().bulk_create(objs, *args, **kwargs)

    def update(self, **fields: Any) -> int:
        """Every UPDATE bumps the version and stamps the change; one that sets the tags sets their keys too."""
        fields = {"version": F("version") + 1, "updated_at": timezone.now(), **fields}
        if "tags" in fields and "tag_keys" not in fields:  # bulk_update derives them itself
            fields["tag_keys"] = tag_keys(fields["tags"])
        return super().update(**fields)

    def bulk_update(self, objs: Iterable[Task], fields: Iterable[str], *args: Any, **kwargs: Any) -> int:
        objs = list(objs)
        for task in objs:
            task.tag_keys = tag_keys(task.tags)
            task.version = F("version") + 1
        changed = super().bulk_update(objs, {*fields, "tag_keys", "version"}, *args, **kwargs)
        for task in objs:
            task.forget_version()
        return changed

    def set_completed_returning(self, completed: bool | None) -> list[Task]:
        """Set ``completed``, or flip it when None, returning the changed tasks from the same statement.

        One statement (UPDATE … RETURNING) finds, changes and reads back the tasks, so a flip can neither be
        lost to a concurrent one nor cost extra round trips. Django's ORM has no UPDATE … RETURNING yet.
        """
        try:
            selected, params = self.order_by().values("pk").query.sql_with_params()
        except EmptyResultSet:  # e.g. an id beyond the column's range: nothing can match
            return []
        connection = connections[self.db]
        table = connection.ops.quote_name(self.model._meta.db_table)
        value = "NOT completed" if completed is None else "%s"
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        sql = (
            f"UPDATE {table} SET completed = {value}, updated_at = %s, version = version + 1 "
            f"WHERE id IN ({selected}) RETURNING *"
        )
        values = [now] if completed is None else [completed, now]
        return list(self.model.objects.using(self.db).raw(sql, [*values, *params]))


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
    # Bumped by every write (this model's save() and queryset methods see to it): with the id, the task's ETag.
    version = models.PositiveIntegerField(default=1, db_default=1, editable=False)
    # The task's place in its owner's change feed, set by the database on every INSERT and UPDATE (triggers in
    # migration 0006, so that no write path can skip it): the owner's TaskChangeCounter, bumped under its lock.
    change_seq = models.BigIntegerField(db_default=0, editable=False)

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
            # The change feed: one user's tasks, live or deleted, changed after a cursor.
            models.Index(fields=["user_id", "change_seq"], name="task_user_change_seq_idx"),
            # The purge's search for tasks deleted long enough ago, among the few deleted ones.
            models.Index(fields=["deleted_at"], name="task_deleted_idx", condition=Q(deleted_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.tag_keys = tag_keys(self.tags)
        updating = not self._state.adding
        if updating:
            # Counted by the database, not from this copy, which may be older than the row.
            self.version = F("version") + 1
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "version", *(["tag_keys"] if "tags" in update_fields else [])}
        super().save(*args, **kwargs)
        if updating:
            self.forget_version()

    def forget_version(self) -> None:
        """Drop a version the database computed: read again on next use, never a stale number."""
        del self.version


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
