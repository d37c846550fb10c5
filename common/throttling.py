"""DRF's rate throttles, counted in Redis atomically and in one round trip when REDIS_URL is set.

DRF keeps each client's request history as one cache value that it reads, changes and writes back: two
workers serving the same client at the same moment both read the old history, and one request goes
uncounted. Here a Lua script trims, counts and records in one step on a sorted set, so every worker sees
every request. Without REDIS_URL (one process, local memory) DRF's own counting is used.

The script runs on the Django cache's own Redis client (common/cache.py): one connection
configuration, and one circuit breaker that bounds what a hung Redis costs each request.
"""

from __future__ import annotations

import ipaddress
import logging
import time
import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions, throttling
from rest_framework.settings import api_settings

from .cache import CacheUnavailable

if TYPE_CHECKING:  # importing DRF's views here would be circular: its settings load these classes
    from django.http import HttpRequest
    from rest_framework.request import Request
    from rest_framework.views import APIView

log = logging.getLogger("todo.throttling")

# DRF checks authentication, then permissions, then throttles: a request it refuses at either of the first
# two steps was never counted, so a flood of junk tokens or of another user's paths went unlimited.
# (IsOwner is a view-level permission: no 403 comes after the throttles and gets counted twice.)
UNCOUNTED_REFUSALS = (exceptions.NotAuthenticated, exceptions.AuthenticationFailed, exceptions.PermissionDenied)

# KEYS[1]: the client's history; ARGV: now, window (s), limit, a unique member for this request, its cost (how many
# requests it counts as). Returns {1} when allowed (all of its cost recorded), or {0, oldest timestamp kept} when
# not (nothing recorded: a request over the remaining allowance is refused whole).
_SLIDING_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local cost = tonumber(ARGV[5])
if redis.call('ZCARD', KEYS[1]) + cost <= tonumber(ARGV[3]) then
    for i = 1, cost do
        redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4] .. ':' .. i)
    end
    redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
    return {1}
end
return {0, redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2] or ARGV[1]}
"""


# The breaker opening last warned about: one warning per opening, not one per request served unthrottled.
_warned_since: float | None = None


def _warn_once(exc: CacheUnavailable) -> None:
    global _warned_since
    if exc.since != _warned_since:
        _warned_since = exc.since
        cause = type(exc.__cause__).__name__ if exc.__cause__ else "failing"
        log.warning(
            "Redis unavailable (%s): requests are served unthrottled; it is asked again every %s s",
            cause,
            settings.REDIS_RETRY_SECONDS,
        )


class AtomicRedisRateMixin:
    """Counts a DRF rate throttle's requests with one atomic Redis script instead of a read and a write."""

    def allow_request(self, request: Request, view: APIView, cost: int = 1) -> bool:
        """Count the request as ``cost`` requests (a batch's operations), all of them or, when refused, none."""
        if not settings.REDIS_URL:
            return super().allow_request(request, view) if cost == 1 else self._allow_locally(request, view, cost)
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = time.time()
        try:
            allowed, *oldest = cache.run_script(
                _SLIDING_WINDOW,
                keys=[f"todo:{key}"],
                args=[now, self.duration, self.num_requests, uuid.uuid4().hex, cost],
            )
        except CacheUnavailable as exc:
            # Throttling protects the service; it must not be the reason the service is down.
            _warn_once(exc)
            return True
        self._wait = 0.0 if allowed else self.duration - (now - float(oldest[0]))
        return bool(allowed)

    def _allow_locally(self, request: Request, view: APIView, cost: int) -> bool:
        # DRF's SimpleRateThrottle.allow_request, counting ``cost`` entries at once (it has no cost of its own).
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) + cost > self.num_requests:
            return self.throttle_failure()
        self.history[:0] = [self.now] * cost
        self.cache.set(self.key, self.history, self.duration)
        return True

    def wait(self) -> float | None:
        if not settings.REDIS_URL:
            return super().wait()
        return max(self._wait, 0.0)


class AtomicAnonRateThrottle(AtomicRedisRateMixin, throttling.AnonRateThrottle):
    """Per client address, for requests without a valid token."""


class AtomicUserRateThrottle(AtomicRedisRateMixin, throttling.UserRateThrottle):
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


def charge(request: Request, view: APIView, cost: int) -> exceptions.Throttled | None:
    """Counts ``cost`` more requests against the view's throttles, on top of the one DRF counted on the way in:
    the Throttled to answer when they would pass a limit, in which case none of them is counted."""
    waits = [throttle.wait() for throttle in view.get_throttles() if not throttle.allow_request(request, view, cost)]
    if not waits:
        return None
    return exceptions.Throttled(max((wait for wait in waits if wait is not None), default=None))


def count_refusal(request: Request | HttpRequest, view: APIView | None = None) -> exceptions.Throttled | None:
    """Counts a refused request as DRF counts a served one: the Throttled to answer instead when over a limit.

    For DRF's refusals (UNCOUNTED_REFUSALS) the view's throttles; for Django's own (a 404 on an unknown
    URL, outside any DRF view) the default ones, which count an unauthenticated client by its address.
    """
    if view is not None:
        throttles = view.get_throttles()
    else:
        throttles = [throttle() for throttle in api_settings.DEFAULT_THROTTLE_CLASSES]
    # Every throttle counts the request, as DRF's check_throttles does, and the longest wait wins.
    waits = [throttle.wait() for throttle in throttles if not throttle.allow_request(request, view)]
    if not waits:
        return None
    return exceptions.Throttled(max((wait for wait in waits if wait is not None), default=None))
