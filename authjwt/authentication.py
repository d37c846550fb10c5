"""Stateless authentication of the sign-in front end's JWTs: no user table, no database query."""

from __future__ import annotations

from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError

from .exceptions import TokenExpired, TokenInvalid
from .tokens import BetterAuthToken, BetterAuthUser, verified_tokens


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return str(exc)


class BetterAuthJWTAuthentication(JWTStatelessUserAuthentication):
    """Authenticates ``Authorization: Bearer <jwt>`` as a ``TokenUser`` built from the token's claims."""

    www_authenticate_realm = "api"

    def get_raw_token(self, header: bytes) -> bytes | None:
        parts = header.split()
        # The scheme is case-insensitive (RFC 7235); another scheme is not ours to judge.
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise TokenInvalid("Authorization header is not 'Bearer <token>'")
        return parts[1]

    def get_validated_token(self, raw_token: bytes) -> BetterAuthToken:
        try:
            return verified_tokens.verify(raw_token)
        except ExpiredTokenError as exc:
            raise TokenExpired() from exc
        except TokenError as exc:
            raise TokenInvalid(_root_cause(exc)) from exc

    def get_user(self, validated_token: BetterAuthToken) -> BetterAuthUser:
        return BetterAuthUser(validated_token)
