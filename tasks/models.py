"""A user's task. Users live in the sign-in service; a task knows its owner only by id."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from authjwt.tokens import USER_ID_MAX_LENGTH


class Priority(models.IntegerChoices):
    """Stored as a rank so that ordering by priority means ordering by importance."""

    LOW = 1, "low"
    MEDIUM = 2, "medium"
    HIGH = 3, "high"


class TaskQuerySet(models.QuerySet):
    def live(self) -> TaskQuerySet:
        return self.filter(deleted_at__isnull=True)

    def owned_by(self, user_id: str) -> TaskQuerySet:
        return self.filter(user_id=user_id)

    def set_completed(self, completed: bool | None) -> int:
        """Set ``completed``, or flip it when None, in one UPDATE so concurrent toggles never get lost."""
        value = ~F("completed") if completed is None else completed
        return self.update(completed=value, updated_at=timezone.now())

    def soft_delete(self) -> int:
        return self.update(deleted_at=timezone.now(), updated_at=timezone.now())

    def restore(self) -> int:
        return self.update(deleted_at=None, updated_at=timezone.now())


class Task(models.Model):
    user_id = models.CharField(max_length=USER_ID_MAX_LENGTH)
    title = models.CharField(max_length=200)
    description = models.CharField(max_length=1000, blank=True, default="")
    completed = models.BooleanField(default=False)
    priority = models.PositiveSmallIntegerField(choices=Priority, default=Priority.MEDIUM)
    due_date = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

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
        ]

    def __str__(self) -> str:
        return self.title

    def set_completed(self, completed: bool | None) -> None:
        Task.objects.filter(pk=self.pk).set_completed(completed)
        self.refresh_from_db(fields=["completed", "updated_at"])

    def soft_delete(self) -> None:
        Task.objects.filter(pk=self.pk).soft_delete()
        self.refresh_from_db(fields=["deleted_at", "updated_at"])
