"""The tables every app shares: the idempotency keys of unsafe requests (common/idempotency.py)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

# As long as a token's user id may be (authjwt.tokens.USER_ID_MAX_LENGTH, which this bottom layer cannot import;
# common/tests/test_idempotency.py checks that they agree).
USER_ID_MAX_LENGTH = 255
# The longest Idempotency-Key taken; a longer one is a 400.
IDEMPOTENCY_KEY_MAX_LENGTH = 255


class IdempotencyKey(models.Model):
    """One user's key, the request it first came with, and the answer that request got.

    Inserted, then completed with the answer, in the transaction of the write it guards: another transaction
    only ever sees it complete, or not at all.
    """

    user_id = models.CharField(max_length=USER_ID_MAX_LENGTH)
    key = models.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
    # SHA-256 of the request's method, path, If-Match and body: a retry must send the same.
    fingerprint = models.CharField(max_length=64)
    # The answer, as the client got it: status, the headers worth replaying, the body's bytes.
    status = models.PositiveSmallIntegerField(null=True)
    headers = models.JSONField(default=dict)
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user_id", "key"], name="idempotency_key_user_key_uniq")]
        # purge_idempotency_keys deletes the oldest first.
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_created_idx")]

    def __str__(self) -> str:
        return self.key
