"""The change feed: what changed in one user's tasks since a cursor, with no change ever missed or repeated.

Every write of a task stamps it with its owner's next change number (TaskChangeCounter, bumped by a trigger
under the counter row's lock until commit: migration 0007). One user's numbers therefore become visible in
order, so "every task numbered above the cursor" is exactly what the client has not seen, and a transaction
that started before a read but commits after it still lands above the cursor that read gave out. Timestamps or
ids would not do: a slow transaction commits an older value after a reader has moved past it.

A soft-deleted task is its own tombstone until purge_deleted_tasks hard-deletes it; a cursor older than the
newest tombstone purged could have missed it, and is refused with a 410.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.db.models import OuterRef, Q, Subquery
from django.http import QueryDict
from rest_framework import status
from rest_framework.exceptions import APIException, ErrorDetail, ValidationError

from .models import Task, TaskChangeCounter
from .pagination import parse_count
from .serializers import FIELDS, TaskSerializer, utc_iso

INVALID_CURSOR = "This cursor was not given to this user by this API: start over by calling without since."
ROW = (*FIELDS, "deleted_at", "change_seq", "purged_seq")


class CursorExpired(APIException):
    status_code = status.HTTP_410_GONE
    default_detail = (
        "This cursor is older than the deleted tasks this API keeps: start over by calling without since, "
        "and replace what you hold with the answers."
    )
    default_code = "cursor_expired"


@dataclass(frozen=True)
class Cursor:
    """Where a client stands: it has every change numbered up to ``seq``.

    ``start`` is set while a sync from nothing is paging: the counter's value when it began. Tasks deleted at or
    before it were never sent, so their tombstones are left out; it is dropped once ``seq`` passes it.
    """

    seq: int = 0
    start: int = 0

    @staticmethod
    def _signer(user_id: str) -> signing.Signer:
        # Salted with the user: a cursor given to one user is invalid for every other, and none can be forged.
        return signing.Signer(salt=f"tasks.changes:{user_id}")

    def dumps(self, user_id: str) -> str:
        return self._signer(user_id).sign_object([self.seq, self.start])

    @classmethod
    def loads(cls, user_id: str, raw: str) -> Cursor:
        try:
            seq, start = cls._signer(user_id).unsign_object(raw)
        except (signing.BadSignature, ValueError, TypeError):
            raise ValidationError({"since": [ErrorDetail(INVALID_CURSOR, code="invalid_cursor")]}) from None
        return cls(seq, start)

    @property
    def covered(self) -> int:
        """Tombstones up to this number are not needed by the client."""
        return max(self.seq, self.start)


def parse_limit(params: QueryDict) -> int:
    """``?limit=``: the default page size unless given, capped at the maximum; anything but a count is a 400."""
    if "limit" not in params:
        return settings.API_CHANGES_PAGE_SIZE
    most = settings.API_CHANGES_MAX_PAGE_SIZE
    limit = parse_count(params["limit"])
    if limit is None or limit < 1:
        detail = f"Give a whole number from 1; an answer holds at most {most} changes, so a larger limit gives {most}."
        raise ValidationError({"limit": [detail]}, code="invalid")
    return min(limit, most)


def parse_since(user_id: str, params: QueryDict) -> Cursor | None:
    values = params.getlist("since")
    if len(values) > 1:
        raise ValidationError({"since": [ErrorDetail("Give since once.", code="repeated")]})
    return Cursor.loads(user_id, values[0]) if values else None


def changes_since(*, user_id: str, since: Cursor | None, limit: int) -> dict[str, Any]:
    """The feed's answer: ``changed`` tasks, ``deleted`` ones' tombstones, a new ``cursor`` and ``has_more``.

    Nothing new costs one primary-key read, of the counter; otherwise one more indexed read of the tasks.
    """
    counter = TaskChangeCounter.objects.filter(pk=user_id).values_list("last_seq", "purged_seq").first()
    last_seq, purged_seq = counter or (0, 0)
    cursor = since or Cursor(seq=0, start=last_seq)
    if purged_seq > cursor.covered:
        raise CursorExpired()
    rows: list[tuple[Any, ...]] = []
    if last_seq > cursor.seq:
        rows = list(
            Task.objects.owned_by(user_id)
            .filter(Q(deleted_at__isnull=True) | Q(change_seq__gt=cursor.start), change_seq__gt=cursor.seq)
            # Read in the same statement as the rows: a purge committed since the counter was read shows here.
            .annotate(
                purged_seq=Subquery(TaskChangeCounter.objects.filter(pk=OuterRef("user_id")).values("purged_seq"))
            )
            .order_by("change_seq")
            .values_list(*ROW)[: limit + 1]
        )
        if rows and rows[0][-1] > cursor.covered:
            raise CursorExpired()
    has_more = len(rows) > limit
    rows = rows[:limit]
    if rows:
        seq = rows[-1][-2]
        cursor = Cursor(seq=seq, start=cursor.start if cursor.start > seq else 0)
    else:
        # Not up to the counter, which can be ahead of every row (tasks purged, or deleted in the admin): a
        # purge committed between the two reads would then go unnoticed. A sync from nothing that found
        # nothing (more) has all there is up to its start.
        cursor = Cursor(seq=cursor.covered)
    fields = len(FIELDS)
    return {
        "changed": [TaskSerializer.row_to_representation(row[:fields]) for row in rows if row[fields] is None],
        "deleted": [{"id": row[0], "deleted_at": utc_iso(row[fields])} for row in rows if row[fields] is not None],
        "cursor": cursor.dumps(user_id),
        "has_more": has_more,
    }
