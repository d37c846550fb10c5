"""A hung Redis, for real: gunicorn reaches it through a proxy that accepts and never answers. Every request
is still answered promptly, unthrottled, with a bounded number of warnings, and throttling resumes after."""

from __future__ import annotations

import json
import math
import time
import uuid
from pathlib import Path

import pytest

from authjwt.tokens import mint_token
from todo_project.tests.servers import Client, TcpProxy, serve, through_proxy

pytestmark = pytest.mark.reliability

REDIS = "redis://127.0.0.1:6379/0"
WORKERS = 2


def test_a_hung_redis_slows_no_request_and_throttling_resumes_after(
    server_env: dict[str, str], tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    user, other = f"hung-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    with TcpProxy(REDIS) as proxy:
        env = {
            **server_env,
            "REDIS_URL": through_proxy(REDIS, proxy),
            "REDIS_RETRY_SECONDS": "1",
            "API_THROTTLE_RATE": "5/minute",
        }
        with serve(env, tmp_path / "server.log", workers=WORKERS) as server:
            proxy.cut(hang=True)
            hung_at = time.monotonic()
            requests = [
                (mint_token(user), f"/api/{user}/tasks/", 200),
                ("junk", f"/api/{user}/tasks/", 401),
                (mint_token(user), f"/api/{other}/tasks/", 403),
                (None, "/no/such/page", 404),
            ] * 10
            answers = []
            for token, path, _ in requests:
                started = time.perf_counter()
                response = Client(server, token=token, timeout=10).request("GET", path)
                answers.append((response.status, time.perf_counter() - started))
            started = time.perf_counter()
            ready = Client(server, timeout=10).request("GET", "/ready")
            ready_seconds = time.perf_counter() - started
            hung_for = time.monotonic() - hung_at

            proxy.restore()
            time.sleep(1.1)  # REDIS_RETRY_SECONDS: until then the breaker keeps Redis out
            fresh = f"resumed-{uuid.uuid4().hex[:8]}"
            after = [Client(server, token=mint_token(fresh)).request("GET", f"/api/{fresh}/tasks/") for _ in range(6)]
    record_property("faults_injected", 1)

    assert [status for status, _ in answers] == [expected for _, _, expected in requests]
    slowest = max(seconds for _, seconds in answers)
    assert slowest < 0.5, f"a request took {slowest:.2f} s with Redis hung"
    assert ready.status == 503 and ready.json()["checks"]["cache"] == "failing"
    assert ready_seconds < 1, f"/ready took {ready_seconds:.2f} s"
    records = [json.loads(line) for line in server.log_lines() if line.startswith("{")]
    warnings = [record for record in records if record["logger"] == "todo.throttling"]
    # At most one per worker per opening of its breaker, which reopens at most once per REDIS_RETRY_SECONDS.
    assert 1 <= len(warnings) <= WORKERS * (math.ceil(hung_for) + 1)
    assert [response.status for response in after] == [200] * 5 + [429]
