"""Django's Redis cache, with a bound on what a hung Redis costs: short timeouts and a circuit breaker.

Redis holds what the service can do without for a while (throttle counts, the JWKS copy), so a hung
Redis must not add its socket timeout to every request. Every call to Redis goes through this backend,
the throttle's Lua script included (``run_script``): one connection configuration (CACHES in settings)
and one breaker. A call that fails or times out (REDIS_TIMEOUT_MS) opens the breaker; for the next
REDIS_RETRY_SECONDS every call raises ``CacheUnavailable`` at once without asking Redis, and the first
call after that asks again. A subclass of the backend rather than a wrapper around each caller, so a
new use of the cache is bounded without anyone remembering to.

The breaker is per process: each gunicorn worker pays one timeout per opening, then skips Redis.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import redis
from django.conf import settings
from django.core.cache.backends import redis as django_redis
from django.utils.functional import cached_property
from redis.commands.core import Script


class CacheUnavailable(Exception):
    """Redis failed, or failed recently enough that it is not being asked."""

    def __init__(self, since: float) -> None:
        super().__init__("Redis unavailable")
        # When the breaker opened (time.monotonic()): callers that warn do so once per opening.
        self.since = since


class _Breaker:
    def __init__(self) -> None:
        self.opened_at = 0.0
        self.retry_at = 0.0

    @contextmanager
    def guard(self) -> Iterator[None]:
        if time.monotonic() < self.retry_at:
            raise CacheUnavailable(self.opened_at)
        try:
            yield
        except redis.RedisError as exc:
            self.opened_at = time.monotonic()
            self.retry_at = self.opened_at + settings.REDIS_RETRY_SECONDS
            raise CacheUnavailable(self.opened_at) from exc


# Per process, shared by the per-thread cache instances Django makes.
_breaker = _Breaker()


class _GuardedClient:
    """Django's Redis client, each of whose calls (get, set, add, ...) goes through the breaker."""

    def __init__(self, client: django_redis.RedisCacheClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)

        @functools.wraps(method)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            with _breaker.guard():
                return method(*args, **kwargs)

        return guarded


class FailFastRedisCache(django_redis.RedisCache):
    """Django's Redis cache whose calls fail fast, as ``CacheUnavailable``, while Redis is failing."""

    @cached_property
    def _cache(self) -> _GuardedClient:
        return _GuardedClient(self._class(self._servers, **self._options))

    @cached_property
    def _script_client(self) -> redis.Redis:
        # On the pool of Django's own calls. Kept, not made per call as Django does: making one costs more
        # than the script's round trip, and the throttle runs on every request.
        return self._cache._client.get_client(write=True)

    @cached_property
    def _scripts(self) -> dict[str, Script]:
        return {}

    def run_script(self, script: str, *, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Runs a Lua script on the cache's own Redis (EVALSHA, loading it on first use)."""
        with _breaker.guard():
            # Registered once: registering hashes the script, a cost the throttle would pay on every request.
            registered = self._scripts.get(script)
            if registered is None:
                registered = self._scripts[script] = self._script_client.register_script(script)
            return registered(keys=keys, args=args)
