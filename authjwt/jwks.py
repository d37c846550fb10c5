"""The sign-in server's public keys (its JWKS), fetched over HTTP and kept in Django's shared cache.

While the shared cache (Redis) is unavailable, each process keeps its own copy, with the same expiry, refetch
cooldown and failure back-off: Better Auth's tokens keep working, and the sign-in server is asked at most as often
per process as it otherwise is across all of them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from jwt import PyJWK, PyJWKClient, PyJWKSet, PyJWTError
from rest_framework_simplejwt.exceptions import TokenBackendError

from common.cache import CacheUnavailable

# The sign-in server sits next to us: a JWKS that takes longer than this is down, and every
# request waiting for it holds a worker.
FETCH_TIMEOUT_SECONDS = 3
# A token naming a kid we don't have refetches the set (the server may have rotated its key), but
# at most once per this many seconds across all workers: a flood of made-up kids costs the sign-in
# server one request a minute, while a genuinely new key is picked up within a minute.
REFETCH_COOLDOWN_SECONDS = 60
# After a failed fetch, tokens that need the keys are refused without asking again for this long,
# so an outage (or a hang of FETCH_TIMEOUT_SECONDS) is not repeated on every request.
RETRY_AFTER_FAILURE_SECONDS = 10


# This process's stand-in for the shared cache while Redis is out (common/cache.py's breaker).
_process_cache = LocMemCache("authjwt-jwks", {})


class KeyUnavailable(TokenBackendError):
    """No usable key for a token: the JWKS is unreachable or garbage, has no such kid, or the key does not fit."""


def signing_key(url: str, kid: str, algorithm: str) -> PyJWK:
    """The public key ``kid`` from the JWKS at ``url``, bound to ``algorithm``, the only one it may verify."""
    try:
        jwk = _find(url, kid, cache)
    except CacheUnavailable:
        # Not "fetch for every token": the cooldowns must still hold, or a flood of tokens (unthrottled while
        # Redis is out) would become a flood on the sign-in server.
        jwk = _find(url, kid, _process_cache)
    if jwk.get("alg", algorithm) != algorithm:
        raise KeyUnavailable(f"JWKS key {kid!r} is for {jwk['alg']!r}, not {algorithm!r}")
    if jwk.get("use", "sig") != "sig":
        raise KeyUnavailable(f"JWKS key {kid!r} is not a signing key")
    try:
        # PyJWK refuses a key of another type (an Ed25519 key for RS256, say).
        return PyJWK(jwk, algorithm)
    except PyJWTError as exc:
        raise KeyUnavailable(f"JWKS key {kid!r} does not fit {algorithm!r}: {exc}") from None


def _find(url: str, kid: str, store: BaseCache) -> dict[str, Any]:
    jwks = store.get(_cache_key("keys", url))
    if jwks is None:
        # Once per JWT_JWKS_CACHE_SECONDS, by whichever workers need the keys first.
        jwks = _fetch(url, store)
    elif _lookup(jwks, kid) is None and store.add(_cache_key("refetch", url), True, REFETCH_COOLDOWN_SECONDS):
        # add() is atomic (SET NX in Redis): of all the workers, one wins and refetches.
        jwks = _fetch(url, store)
    jwk = _lookup(jwks, kid)
    if jwk is None:
        # The kid is the client's: only its start goes to the log.
        raise KeyUnavailable(f"JWKS has no key with kid {kid[:64]!r}")
    return jwk


def _fetch(url: str, store: BaseCache) -> dict[str, Any]:
    failure = store.get(_cache_key("failure", url))
    if failure is not None:
        raise KeyUnavailable(failure)
    try:
        # PyJWKClient's fetch: http(s) only, no redirects, a timeout; PyJWKSet checks the keys are usable.
        jwks = PyJWKClient(url, cache_jwk_set=False, timeout=FETCH_TIMEOUT_SECONDS).fetch_data()
        PyJWKSet.from_dict(jwks)
    except (PyJWTError, OSError, ValueError, RecursionError) as exc:
        # OSError: the connection dropped mid-body; ValueError: not JSON; RecursionError: absurdly nested JSON.
        failure = f"JWKS at {url} unavailable: {exc}"
        store.set(_cache_key("failure", url), failure, RETRY_AFTER_FAILURE_SECONDS)
        raise KeyUnavailable(failure) from None
    # The parsed JSON, not key objects: any worker (and any version of this code) can read it back.
    store.set(_cache_key("keys", url), jwks, settings.JWT_JWKS_CACHE_SECONDS)
    return jwks


def _lookup(jwks: dict[str, Any], kid: str) -> dict[str, Any] | None:
    return next((jwk for jwk in jwks["keys"] if isinstance(jwk, dict) and jwk.get("kid") == kid), None)


def _cache_key(name: str, url: str) -> str:
    # Short and plain, as every cache backend wants; a changed URL must not find the old server's keys.
    return f"authjwt:jwks:{name}:{hashlib.sha256(url.encode()).hexdigest()[:32]}"
