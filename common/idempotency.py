"""Idempotency keys (the IETF HTTP API working group's ``Idempotency-Key`` header) on a view's unsafe requests.

A client that never saw the answer to a write sends it again with the same key, and the write happens once:

- The key's row is inserted, the handler runs and its final answer is stored on the row, in one transaction:
  a crash or a server error (5xx) leaves neither the write nor the key, and a retry runs afresh.
- The same key with the same request (method, URL, ``If-Match`` and body, byte for byte) within
  ``IDEMPOTENCY_KEY_TTL_HOURS``: the stored answer (status, body, ``Content-Type``, ``Location``, ``ETag``),
  marked ``Idempotent-Replayed: true``. 2xx and 4xx answers are both stored, as Stripe does: a key names one
  attempt at one operation, whose answer is final; a client that changes its request sends a new key.
- The same key with a different request: a 422 ``idempotency_key_reused``, and nothing runs.
- Two requests with one key at once: the second's INSERT waits on the unique index for the first's
  transaction, then replays its answer; if the first is still running after ``IDEMPOTENCY_KEY_WAIT_MS``, a
  409 ``idempotency_key_in_use`` with ``Retry-After``.
- Keys are per user (the token's user id): one user's key never finds another user's row.
- ``manage.py purge_idempotency_keys`` deletes the rows past their life.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from .errors import IdempotencyKeyInUse, IdempotencyKeyReused
from .models import IDEMPOTENCY_KEY_MAX_LENGTH, IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# 1 to 255 printable ASCII characters, not starting or ending with a space (which HTTP would strip): a UUID, or the
# draft's quoted form ("…"), taken as sent.
KEY_PATTERN = rf"^[!-~]([ -~]{{0,{IDEMPOTENCY_KEY_MAX_LENGTH - 2}}}[!-~])?$"
INVALID_KEY = (
    f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters, not starting or ending "
    "with a space: e.g. a UUID, new for each operation and the same for each retry of it."
)
# The headers a replay repeats: what says what the body is, and where and which version of the task it names.
STORED_HEADERS = ("Content-Type", "Location", "ETag")
# PostgreSQL's SQLSTATE when lock_timeout cut a wait short.
LOCK_NOT_AVAILABLE = "55P03"


def fingerprint(request: Request) -> str:
    """What a retry must repeat: the method, the URL, the precondition and the body's bytes."""
    digest = hashlib.sha256()
    for part in (request.method, request.get_full_path(), request.headers.get("If-Match", "")):
        digest.update(part.encode())
        digest.update(b"\n")  # none of them can contain one
    # Read within DATA_UPLOAD_MAX_MEMORY_SIZE (a larger body is a 413 here); DRF's parsers read it again after.
    digest.update(request.body)
    return digest.hexdigest()


def claim(*, user_id: str, key: str, fingerprint: str) -> tuple[IdempotencyKey, bool]:
    """The key's row, and whether this request inserted it; if not, a committed request left it, with its answer."""
    for _ in range(2):
        inserted = _insert(user_id=user_id, key=key, fingerprint=fingerprint)
        if inserted is not None:
            return inserted, True
        row = IdempotencyKey.objects.filter(user_id=user_id, key=key).first()
        if row is None:
            continue  # purged meanwhile: the key is free
        if row.created_at >= timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS):
            return row, False
        row.delete()  # past its life and not purged yet: the key is free again
    # Taken again by a concurrent request each time it was freed: that request's answer is the one to wait for.
    raise IdempotencyKeyInUse()


def _insert(*, user_id: str, key: str, fingerprint: str) -> IdempotencyKey | None:
    """The row inserted; None if a committed transaction holds the key (after waiting for one that had not)."""
    postgresql = connection.vendor == "postgresql"
    try:
        # A savepoint, so that the conflict undoes the INSERT alone (and the SET LOCAL before it).
        with transaction.atomic():
            if postgresql:
                # An INSERT that meets a concurrent uncommitted one with the same key waits for its transaction
                # to end: wait only this long. Only for this INSERT: the handler's own row locks keep their wait.
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT set_config('lock_timeout', %s, true)", [f"{settings.IDEMPOTENCY_KEY_WAIT_MS}ms"]
                    )
            row = IdempotencyKey.objects.create(user_id=user_id, key=key, fingerprint=fingerprint)
            if postgresql:
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
    except IntegrityError:
        return None
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise IdempotencyKeyInUse() from None
        raise
    return row


def replay(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(row.body), status=row.status)
    if "Content-Type" not in row.headers:
        del response["Content-Type"]  # e.g. a 204: Django's default would claim an HTML body
    for name, value in row.headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


class IdempotencyKeyMixin:
    """For a viewset whose users are authenticated: each unsafe request carrying ``Idempotency-Key`` runs at
    most once per user and key, whichever handler or action serves it."""

    request: Request
    # The row this request inserted, to store its answer on; or the one whose answer it replays.
    _idempotency_key: IdempotencyKey | None = None
    _replayed: IdempotencyKey | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # DRF's dispatch is overridden here, not the perform_* hooks (CONVENTIONS), because it is the one hook that
        # encloses all the transaction must: the key's row (claimed in initial(), once the user is known), the
        # handler's writes, and the final answer to store, whose ETag finalize_response() adds and whose
        # Content-Type only rendering sets. A request without the key, or a safe one, is DRF's own dispatch.
        if request.method in SAFE_METHODS or HEADER not in request.headers:
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            if self._idempotency_key is None or response.status_code >= 500:
                # Nothing was claimed (a refusal before the key was read, a replay, a 409 or 422) or a server
                # error, which is no answer to keep: the write and the key roll back together, and a retry runs.
                transaction.set_rollback(True)
                return response
            response.render()
            IdempotencyKey.objects.filter(pk=self._idempotency_key.pk).update(
                status=response.status_code,
                headers={name: response[name] for name in STORED_HEADERS if name in response},
                body=response.content,
            )
        return response

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Authentication, permissions and throttles first: their refusals never read or write a key.
        super().initial(request, *args, **kwargs)
        key = request.headers.get(HEADER)
        if request.method in SAFE_METHODS or key is None:
            return
        if not re.fullmatch(KEY_PATTERN, key):
            raise ValidationError({HEADER: [ErrorDetail(INVALID_KEY, code="invalid_idempotency_key")]})
        this_request = fingerprint(request)
        row, inserted = claim(user_id=str(request.user.id), key=key, fingerprint=this_request)
        if inserted:
            self._idempotency_key = row
            return
        if row.fingerprint != this_request:
            raise IdempotencyKeyReused()
        self._replayed = row
        # DRF calls the handler it finds under the method's name right after initial(): the stored answer takes
        # its place, as ViewSet.as_view() itself binds each action under its method's name.
        setattr(self, request.method.lower(), self.replay)

    def replay(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        return replay(self._replayed)
