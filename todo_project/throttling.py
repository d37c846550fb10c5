"""DRF's rate throttles, counted in Redis atomically and in one round trip when REDIS_URL is set.

DRF keeps each client's request history as one cache value that it reads, changes and writes back: two
workers serving the same client at the same moment both read the old history, and one request goes
uncounted. Here a Lua script trims, counts and records in one step on a sorted set, so every worker sees
every request. Without REDIS_URL (one process, local memory) DRF's own counting is used.
"""

from __future__ import annotations

import ipaddress
import logging
import time
import uuid
from functools import cache
from typing import TYPE_CHECKING, Any

import redis
from django.conf import settings
from rest_framework import throttling

if TYPE_CHECKING:  # importing DRF's views here would be circular: its settings load these classes
    from django.http import HttpRequest
    from rest_framework.request import Request
    from rest_framework.views import APIView

log = logging.getLogger("todo.throttling")

# KEYS[1]: the client's history; ARGV: now, window (s), limit, a unique member for this request.
# Returns {1} when the request is allowed, or {0, oldest timestamp kept} when it is not.
_SLIDING_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
    redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
    return {1}
end
return {0, redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]}
"""


@cache
def _script() -> Any:
    # Made on first use, in each worker after gunicorn forks, so no connection is shared across processes.
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    return client.register_script(_SLIDING_WINDOW)


class AtomicRedisRateMixin:
    """Counts a DRF rate throttle's requests with one atomic Redis script instead of a read and a write."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        if not settings.REDIS_URL:
            return super().allow_request(request, view)
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = time.time()
        try:
            allowed, *oldest = _script()(
                keys=[f"todo:{key}"], args=[now, self.duration, self.num_requests, uuid.uuid4().hex]
            )
        except redis.RedisError as exc:
            # Throttling protects the service; it must not be the reason the service is down.
            log.warning("throttle not counted, Redis unavailable: %s", type(exc).__name__)
            return True
        self._wait = 0.0 if allowed else self.duration - (now - float(oldest[0]))
        return bool(allowed)

    def wait(self) -> float | None:
        if not settings.REDIS_URL:
            return super().wait()
        return max(self._wait, 0.0)


class AnonRateThrottle(AtomicRedisRateMixin, throttling.AnonRateThrottle):
    """Per client address, for requests without a valid token."""


class UserRateThrottle(AtomicRedisRateMixin, throttling.UserRateThrottle):
    """Per token user."""


class AdminLoginThrottle(AtomicRedisRateMixin, throttling.SimpleRateThrottle):
    """Per client address, for admin login attempts, signed in or not: each may cost a password hash."""

    scope = "admin_login"

    def get_cache_key(self, request: HttpRequest, view: APIView | None) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}


def client_address(request: HttpRequest) -> str:
    """The client's address as DRF's throttles take it (REST_FRAMEWORK["NUM_PROXIES"] entries of X-Forwarded-For
    trusted), for the admin login's throttle and lockout (AXES_CLIENT_IP_CALLABLE) too."""
    address = throttling.BaseThrottle().get_ident(request)
    try:
        ipaddress.ip_address(address)
    except ValueError:
        # NUM_PROXIES above the proxies that really append lets the client write this entry: its text is no
        # address (and would fail the lockout's inet column), so the connection's own address stands in.
        return request.META.get("REMOTE_ADDR", "")
    return address
