"""simplejwt token backends for both kinds of token: HS256 with the shared secrets, asymmetric with the JWKS."""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import jwt
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from jwt.algorithms import requires_cryptography
from rest_framework_simplejwt import settings as simplejwt_settings
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError

from . import jwks

# The shared-secret algorithm; any other HMAC algorithm, and alg "none", is refused.
HMAC_ALGORITHM = "HS256"
# RFC 7519's NumericDate claims.
TIME_CLAIMS = ("exp", "nbf", "iat")


def jwt_settings() -> Any:
    # Looked up on the module each time: simplejwt rebinds it when SIMPLE_JWT changes.
    return simplejwt_settings.api_settings


def _claim_checks() -> dict[str, Any]:
    config = jwt_settings()
    return {"audience": config.AUDIENCE, "issuer": config.ISSUER, "leeway": config.LEEWAY}


@cache
def secret_backends() -> tuple[TokenBackend, ...]:
    """One HS256 backend per secret in BETTER_AUTH_SECRET, the signing one first."""
    return tuple(TokenBackend(HMAC_ALGORITHM, secret, **_claim_checks()) for secret in settings.JWT_SECRETS)


@cache
def jwks_backends() -> dict[str, JWKSBackend]:
    """A backend per accepted asymmetric algorithm; none without a JWKS to take the keys from."""
    if not settings.JWT_JWKS_URL:
        return {}
    # requires_cryptography is PyJWT's set of asymmetric algorithms: whatever JWT_ALGORITHMS says,
    # an HMAC algorithm never reaches a key from the (public) JWKS.
    return {
        algorithm: JWKSBackend(algorithm, settings.JWT_JWKS_URL, **_claim_checks())
        for algorithm in settings.JWT_ALGORITHMS
        if algorithm in requires_cryptography
    }


@receiver(setting_changed)
def _forget_backends(*, setting: str, **kwargs: Any) -> None:
    # simplejwt's own module-level backend never sees changed settings; these do.
    if setting == "SIMPLE_JWT" or setting.startswith("JWT_"):
        secret_backends.cache_clear()
        jwks_backends.cache_clear()


class JWKSBackend(TokenBackend):
    """simplejwt's backend for one asymmetric algorithm, verifying with the JWKS key the token's ``kid`` names."""

    def __init__(self, algorithm: str, jwks_url: str, **claim_checks: Any) -> None:
        super().__init__(algorithm, **claim_checks)
        self.jwks_url = jwks_url

    def get_verifying_key(self, token: Any) -> jwt.PyJWK:
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is None:
            raise jwks.KeyUnavailable("Token has no 'kid' header")
        return jwks.signing_key(self.jwks_url, kid, self.algorithm)

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        try:
            return super().decode(token, verify)
        except jwt.PyJWTError as exc:
            # simplejwt catches only InvalidTokenError; a key on the wrong curve raises InvalidKeyError.
            raise TokenBackendError(str(exc)) from exc


class BetterAuthBackend:
    """Checks a token with the one algorithm its header names and only that algorithm's keys:
    HS256 against the shared secrets, an accepted asymmetric algorithm against the JWKS."""

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            _check_time_claims(jwt.decode(token, options={"verify_signature": False}))
        except jwt.PyJWTError as exc:
            raise TokenBackendError(str(exc)) from exc
        if algorithm == HMAC_ALGORITHM:
            return self._decode_with_secrets(token, verify)
        backend = jwks_backends().get(algorithm) if isinstance(algorithm, str) else None
        if backend is None:
            raise TokenBackendError(f"Algorithm {algorithm!r:.40} is not accepted")
        return backend.decode(token, verify)

    def encode(self, payload: dict[str, Any]) -> str:
        return secret_backends()[0].encode(payload)

    @staticmethod
    def _decode_with_secrets(token: Any, verify: bool) -> dict[str, Any]:
        *first, last = secret_backends()
        for backend in first:
            try:
                return backend.decode(token, verify)
            except TokenBackendError as exc:
                # PyJWT checks the signature before any claim: only a token signed with another
                # secret moves on to the next one; an expired or malformed one is refused as it is.
                if not isinstance(exc.__cause__, jwt.InvalidSignatureError):
                    raise
        return last.decode(token, verify)


def _check_time_claims(payload: dict[str, Any]) -> None:
    """Each time claim present must be a finite JSON number.

    PyJWT takes whatever ``int()`` takes: a numeric string passes for a date, and ``true`` is 1, "expired"
    rather than invalid. Checked before PyJWT sees the claims, so all of them are ``token_invalid``;
    refusing before the signature check tells an unsigned token nothing it would not learn anyway.
    """
    for claim in TIME_CLAIMS:
        if claim not in payload:
            continue
        value = payload[claim]
        # bool is an int in Python, but JSON's true is no date; a float may be inf or nan (JSON 1e400, NaN).
        # A huge int (10**400) is finite: the lifetime limit (tokens.py) refuses it.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise jwt.InvalidTokenError(f"Token claim {claim!r} is not a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise jwt.InvalidTokenError(f"Token claim {claim!r} is not a finite number")


backend = BetterAuthBackend()
