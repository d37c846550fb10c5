"""Tokens from the sign-in front end or server: verified by ``backends``, minted (HS256) for developers and tests."""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import timedelta
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
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


class VerifiedTokens:
    """The tokens this process has verified, by their exact text: a client sends one token for its whole life
    (Better Auth's live 15 minutes), so its signature and claims are checked once, and on each later request
    only whether it has expired since.

    Bounded in entries (the least recently used go first) and in how long an entry is trusted: a key withdrawn
    from the JWKS, or a secret rotated out, stops working within ``trust_seconds`` without a restart.
    """

    size = 1024
    trust_seconds = 60

    def __init__(self) -> None:
        self._tokens: OrderedDict[bytes, tuple[float, BetterAuthToken]] = OrderedDict()

    def verify(self, raw_token: bytes) -> BetterAuthToken:
        """The token, verified now or found verified; raises simplejwt's TokenError (or ExpiredTokenError)."""
        entry = self._tokens.get(raw_token)
        if entry is not None and time.monotonic() < entry[0]:
            token = entry[1]
            # PyJWT's own rule: expired once exp <= now - leeway.
            if token.payload["exp"] <= time.time() - _leeway_seconds():
                del self._tokens[raw_token]
                raise ExpiredTokenError("Token is expired")
            self._tokens.move_to_end(raw_token)
            return token
        token = BetterAuthToken(raw_token)
        self._tokens[raw_token] = (time.monotonic() + self.trust_seconds, token)
        if len(self._tokens) > self.size:
            self._tokens.popitem(last=False)
        return token

    def clear(self) -> None:
        self._tokens.clear()


def _leeway_seconds() -> float:
    leeway = jwt_settings().LEEWAY
    return leeway.total_seconds() if isinstance(leeway, timedelta) else leeway


verified_tokens = VerifiedTokens()


@receiver(setting_changed)
def _forget_verified_tokens(*, setting: str, **kwargs: Any) -> None:
    # What made a token good (secrets, keys, issuer, audience, lifetimes) may have changed.
    if setting == "SIMPLE_JWT" or setting.startswith("JWT_") or setting == "BETTER_AUTH_SECRET":
        verified_tokens.clear()


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
