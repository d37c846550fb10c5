"""``python manage.py purge_deleted_tasks``: hard-delete tasks soft-deleted more than TASK_RETENTION_DAYS ago."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from tasks import services


class Command(BaseCommand):
    help = (
        "Hard-delete the tasks soft-deleted more than TASK_RETENTION_DAYS days ago, TASK_PURGE_BATCH_SIZE per "
        "transaction. Change feed cursors older than the tasks purged get 410 cursor_expired. Run it daily."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        # One cutoff for the whole run: batches never chase tasks deleted while it runs.
        deleted_before = timezone.now() - timedelta(days=settings.TASK_RETENTION_DAYS)
        total = 0
        while purged := services.tasks_purge_deleted(
            deleted_before=deleted_before, limit=settings.TASK_PURGE_BATCH_SIZE
        ):
            total += purged
        self.stdout.write(f"Purged {total} tasks deleted before {deleted_before.isoformat()}.")
