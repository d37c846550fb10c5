"""``python manage.py purge_idempotency_keys``: delete the idempotency keys past their life (run it hourly)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from common.models import IdempotencyKey

# Rows per DELETE: each is a short transaction, so the purge never holds many row locks for long, and a request
# reusing a key it is deleting waits for a moment at most.
BATCH = 1000


class Command(BaseCommand):
    help = f"Delete the idempotency keys older than IDEMPOTENCY_KEY_TTL_HOURS, {BATCH} at a time."

    def handle(self, *args: Any, **options: Any) -> None:
        expired = IdempotencyKey.objects.filter(
            created_at__lt=timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
        )
        total = 0
        while True:
            # Oldest first, by the created_at index; the DELETE then finds its rows by primary key.
            batch = list(expired.order_by("created_at").values_list("pk", flat=True)[:BATCH])
            if not batch:
                break
            deleted, _ = IdempotencyKey.objects.filter(pk__in=batch).delete()
            total += deleted
        self.stdout.write(f"Deleted {total} idempotency keys.")
