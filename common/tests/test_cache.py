"""A hung Redis, in process: the cache gives up after one short timeout and then skips Redis for a while."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from authjwt import jwks
from authjwt.tests.test_jwks import JWKSServer, get, server, sign  # noqa: F401 (server: a fixture)
from common import cache as cache_module
from common.cache import CacheUnavailable
from conftest import ALICE
from todo_project.tests.servers import TcpProxy, through_proxy

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def proxy() -> Iterator[TcpProxy]:
    with TcpProxy(REDIS) as proxy:
        yield proxy


@pytest.fixture
def redis_cache(settings: Any, proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch) -> TcpProxy:
    """The project's Redis cache, reached through ``proxy``, with a breaker of its own."""
    proxy.restore()
    monkeypatch.setattr(cache_module, "_breaker", cache_module._Breaker())
    url = through_proxy(REDIS, proxy)
    settings.REDIS_URL = url
    settings.REDIS_RETRY_SECONDS = 1
    settings.CACHES = {
        "default": {
            "BACKEND": "common.cache.FailFastRedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 0.05, "socket_timeout": 0.05},
        }
    }
    return proxy


def test_a_hung_redis_costs_one_timeout_then_is_not_asked(redis_cache: TcpProxy) -> None:
    cache.set("probe", "ok")
    redis_cache.cut(hang=True)

    started = time.perf_counter()
    with pytest.raises(CacheUnavailable):
        cache.get("probe")
    first = time.perf_counter() - started
    asked = redis_cache.connections
    for _ in range(20):
        with pytest.raises(CacheUnavailable):
            cache.get("probe")

    assert first < 0.5, f"the first call waited {first:.2f} s"
    assert redis_cache.connections == asked, "Redis was asked again while the breaker was open"


def test_redis_is_asked_again_once_the_retry_interval_has_passed(redis_cache: TcpProxy) -> None:
    redis_cache.cut(hang=True)
    with pytest.raises(CacheUnavailable):
        cache.set("probe", "ok")
    redis_cache.restore()

    with pytest.raises(CacheUnavailable):
        cache.set("probe", "ok")
    time.sleep(1.1)  # REDIS_RETRY_SECONDS
    cache.set("probe", "back")

    assert cache.get("probe") == "back"


@pytest.fixture
def low_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "3/minute"})


def test_with_redis_hung_requests_are_served_unthrottled_with_one_warning(
    alice: APIClient, redis_cache: TcpProxy, low_rates: None, caplog: pytest.LogCaptureFixture
) -> None:
    redis_cache.cut(hang=True)

    with caplog.at_level(logging.WARNING, logger="todo.throttling"):
        statuses = [alice.get(f"/api/{ALICE}/tasks/").status_code for _ in range(10)]

    assert statuses == [200] * 10
    warnings = [record for record in caplog.records if record.name == "todo.throttling"]
    assert [record.levelname for record in warnings] == ["WARNING"]
    assert "unthrottled" in warnings[0].getMessage()


def test_with_redis_hung_ready_reports_the_cache_failing_promptly(client: Any, db: None, redis_cache: TcpProxy) -> None:
    redis_cache.cut(hang=True)

    started = time.perf_counter()
    response = client.get("/ready")
    elapsed = time.perf_counter() - started

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "failing"}
    assert elapsed < 0.5, f"/ready took {elapsed:.2f} s"


def test_with_redis_hung_better_auth_tokens_still_work_and_the_jwks_is_asked_once(
    db: None,
    redis_cache: TcpProxy,
    server: JWKSServer,  # noqa: F811 (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jwks, "_process_cache", LocMemCache("jwks-under-test", {}))
    redis_cache.cut(hang=True)

    started = time.perf_counter()
    statuses = [get(sign(kid)).status_code for kid in ("ed", "p256", "rsa", "ed", "ed")]
    elapsed = time.perf_counter() - started

    assert statuses == [200] * 5
    # The process's own copy stands in for the shared one: one fetch, not one per token.
    assert server.hits == 1
    assert elapsed < 1, f"five tokens took {elapsed:.2f} s"
