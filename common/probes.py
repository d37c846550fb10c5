"""Probes for load balancers and orchestrators: no authentication, no throttling."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse

from .errors import method_not_allowed

log = logging.getLogger("todo.ready")
Probe = Callable[[HttpRequest], JsonResponse]
READ_METHODS = ["GET", "HEAD"]


def read_only(probe: Probe) -> Probe:
    """Any other method is a 405 in the error shape, before the probe does any work."""

    @wraps(probe)
    def answer(request: HttpRequest) -> JsonResponse:
        if request.method not in READ_METHODS:
            return method_not_allowed(request, READ_METHODS)
        return probe(request)

    return answer


@read_only
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@read_only
def ready(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_ok(), "cache": _cache_ok()}
    ok = all(checks.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": {name: "ok" if good else "failing" for name, good in checks.items()},
    }
    return JsonResponse(body, status=200 if ok else 503)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError as exc:
        log.warning("database not ready: %s", type(exc).__name__)
        return False


def _cache_ok() -> bool:
    try:
        cache.set("ready-probe", "ok", timeout=5)
        return cache.get("ready-probe") == "ok"
    except Exception as exc:  # each cache backend raises its own connection errors
        log.warning("cache not ready: %s", type(exc).__name__)
        return False
