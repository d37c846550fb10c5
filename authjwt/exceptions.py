"""The 401 errors a client can get for a token it sent, each with its own code."""

from __future__ import annotations

from rest_framework.exceptions import AuthenticationFailed


class TokenExpired(AuthenticationFailed):
    default_detail = "The token has expired."
    default_code = "token_expired"


class TokenInvalid(AuthenticationFailed):
    default_detail = "The token is invalid."
    default_code = "token_invalid"

    def __init__(self, reason: str) -> None:
        super().__init__()
        # Kept for the security log only: clients get the generic detail.
        self.reason = reason
