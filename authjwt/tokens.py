"""Tokens from the sign-in front end or server: verified by ``backends``, minted (HS256) for developers and tests."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.tokens import Token

from .backends import BetterAuthBackend, backend, jwt_settings

# The longest user id the task table can store; longer ones could never own a task.
USER_ID_MAX_LENGTH = 255


class BetterAuthToken(Token):
    """An access token from the sign-in front end: it must expire, within JWT_MAX_TOKEN_LIFETIME, and name a
    usable user id. PyJWT has checked exp, nbf and iat when present (with the leeway), and the backend that
    each is a finite number."""

    token_type = "access"
    lifetime = timedelta(minutes=15)

    def get_token_backend(self) -> BetterAuthBackend:
        return backend

    def verify(self) -> None:
        if "exp" not in self.payload:
            raise TokenError("Token has no 'exp' claim")
        # A stolen token is good until it expires: one that never does in practice (exp 10**400, or years
        # ahead) is refused. Measured from iat when the issuer says when it signed, else from now.
        # Compared, not subtracted: exp - start would overflow for an int exp of 10**400 and a float start.
        start = self.payload.get("iat", self.current_time.timestamp())
        if self.payload["exp"] > start + settings.JWT_MAX_TOKEN_LIFETIME:
            raise TokenError(
                f"Token lifetime is longer than JWT_MAX_TOKEN_LIFETIME ({settings.JWT_MAX_TOKEN_LIFETIME} s)"
            )
        claim = jwt_settings().USER_ID_CLAIM
        user_id = self.payload.get(claim)
        if not isinstance(user_id, str) or not user_id.strip():
            raise TokenError(f"Token has no string '{claim}' claim")
        if len(user_id) > USER_ID_MAX_LENGTH or "\x00" in user_id:
            raise TokenError(f"Token '{claim}' claim is not a usable user id")
        self.user_id = user_id


class BetterAuthUser(TokenUser):
    """A user known only from a verified token: no database row behind it."""

    @cached_property
    def id(self) -> str:
        return self.token.user_id


def mint_token(user_id: str, *, ttl: timedelta = BetterAuthToken.lifetime, claims: dict[str, Any] | None = None) -> str:
    """Sign an HS256 token for ``user_id`` with the first configured secret, issuer and audience."""
    now = timezone.now()
    payload = {
        **(claims or {}),
        jwt_settings().USER_ID_CLAIM: user_id,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return backend.encode(payload)
