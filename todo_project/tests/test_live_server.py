"""The production setup (nginx in front of gunicorn, debug off) as operators see it: probes, logs, shared throttling."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from authjwt.tokens import mint_token
from todo_project.tests.servers import Server, migrate, production_env, serve


def call(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def log_records(server: Server) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.log_lines() if line.startswith("{")]


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    env = production_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    migrate(env)
    return env


def test_each_request_is_one_json_log_line_with_its_echoed_request_id(
    sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    token = mint_token("log-user")
    with serve(sqlite_env, tmp_path / "server.log") as server:
        status, headers, _ = call(
            f"{server.url}/api/log-user/tasks/?token={token}",
            {"Authorization": f"Bearer {token}", "X-Request-ID": "req-42.a:b"},
        )
        _, refused_headers, _ = call(
            f"{server.url}/api/log-user/tasks/", {"Authorization": "Bearer junk", "X-Request-ID": "bad id\twith spaces"}
        )

    assert status == 200
    assert headers["X-Request-ID"] == "req-42.a:b"
    generated = refused_headers["X-Request-ID"]
    assert len(generated) == 32 and generated != "bad id\twith spaces"

    records = log_records(server)
    request_lines = [record for record in records if record["logger"] == "todo.request"]
    assert [
        (line["method"], line["path"], line["status"], line["user_id"], line["request_id"])
        for line in request_lines
        if line["path"].startswith("/api/")
    ] == [
        ("GET", "/api/log-user/tasks/", 200, "log-user", "req-42.a:b"),
        ("GET", "/api/log-user/tasks/", 401, None, generated),
    ]
    assert all(isinstance(line["duration_ms"], float) for line in request_lines)
    security = [record for record in records if record["logger"] == "todo.security"]
    assert [(line["level"], line["request_id"]) for line in security] == [("WARNING", generated)]
    assert token not in server.log.read_text()
    assert token.split(".")[2] not in server.log.read_text()


def test_without_its_database_the_service_is_live_but_not_ready(tmp_path: Path) -> None:
    env = production_env(DATABASE_URL="postgres://postgres@127.0.0.1:1/unreachable")
    with serve(env, tmp_path / "server.log") as server:
        health = call(f"{server.url}/health")
        ready = call(f"{server.url}/ready")
        api_status, _, api_body = call(
            f"{server.url}/api/someone/tasks/",
            {"Authorization": f"Bearer {mint_token('someone')}", "X-Request-ID": "db-down-1"},
        )

    assert health[0] == 200 and health[2] == {"status": "ok"}
    assert ready[0] == 503
    assert ready[2] == {"status": "unavailable", "checks": {"database": "failing", "cache": "ok"}}
    assert api_status == 503
    assert api_body == {
        "type": "server_error",
        "errors": [
            {
                "code": "service_unavailable",
                "detail": "The service is temporarily unavailable; try again shortly.",
                "attr": None,
            }
        ],
    }
    errors = [
        record for record in log_records(server) if record["level"] == "ERROR" and record["request_id"] == "db-down-1"
    ]
    assert errors, "the database failure was not logged"
    assert "Traceback" in errors[0]["exc_info"] and "OperationalError" in errors[0]["exc_info"]


def _alternate(servers: list[Server], user_id: str, requests: int) -> list[int]:
    headers = {"Authorization": f"Bearer {mint_token(user_id)}"}
    return [call(f"{servers[n % 2].url}/api/{user_id}/tasks/", headers)[0] for n in range(requests)]


def test_the_user_limit_holds_across_worker_processes_sharing_redis(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    env = {**sqlite_env, "API_THROTTLE_RATE": "5/minute", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    user_id = f"throttle-{uuid.uuid4().hex}"
    with serve(env, tmp_path / "a.log") as first, serve(env, tmp_path / "b.log") as second:
        statuses = _alternate([first, second], user_id, 10)
        status, headers, body = call(
            f"{first.url}/api/{user_id}/tasks/", {"Authorization": f"Bearer {mint_token(user_id)}"}
        )

    assert statuses == [200] * 5 + [429] * 5
    assert status == 429
    assert 0 < int(headers["Retry-After"]) <= 60
    assert body["errors"][0]["code"] == "throttled"


def test_without_redis_each_process_counts_alone(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    # Why REDIS_URL matters: local-memory counts are per process, so two processes allow twice the rate.
    env = {**sqlite_env, "API_THROTTLE_RATE": "5/minute"}
    env.pop("REDIS_URL", None)
    with serve(env, tmp_path / "a.log") as first, serve(env, tmp_path / "b.log") as second:
        statuses = _alternate([first, second], f"throttle-{uuid.uuid4().hex}", 12)

    assert statuses == [200] * 10 + [429] * 2


def test_workers_reuse_their_postgresql_connection(tmp_path: Path) -> None:
    from django.db import connections

    if connections["default"].vendor != "postgresql":
        pytest.skip("connection reuse is a PostgreSQL matter; CI runs this on PostgreSQL")
    import psycopg

    # The test run's own database (not pytest-django's test_ copy), so the server needs no migration.
    url = os.environ["DATABASE_URL"]
    application = f"reuse-{uuid.uuid4().hex[:8]}"
    env = production_env(DATABASE_URL=f"{url}?application_name={application}")
    with serve(env, tmp_path / "server.log") as server:
        for _ in range(20):
            assert call(f"{server.url}/ready")[0] == 200
        with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as connection:
            open_connections = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [application]
            ).fetchone()[0]

    assert open_connections == 1


def test_simultaneous_requests_on_two_processes_are_all_counted(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    # DRF alone reads a client's history, adds to it and writes it back: requests racing on two workers
    # read the same history and some go uncounted. The shared count must hold under a burst.
    env = {**sqlite_env, "API_THROTTLE_RATE": "30/minute", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    user_id = f"burst-{uuid.uuid4().hex}"
    headers = {"Authorization": f"Bearer {mint_token(user_id)}"}
    with serve(env, tmp_path / "a.log", workers=4) as first, serve(env, tmp_path / "b.log", workers=4) as second:
        urls = [f"{server.url}/api/{user_id}/tasks/" for server in (first, second)] * 50
        with ThreadPoolExecutor(32) as pool:
            statuses = sorted(pool.map(lambda url: call(url, headers)[0], urls))

    assert statuses == [200] * 30 + [429] * 70


def test_without_redis_requests_are_served_unthrottled_and_not_ready(
    sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**sqlite_env, "REDIS_URL": "redis://127.0.0.1:1/0"}
    with serve(env, tmp_path / "server.log") as server:
        status, _, _ = call(f"{server.url}/api/someone/tasks/", {"Authorization": f"Bearer {mint_token('someone')}"})
        ready_status, _, ready = call(f"{server.url}/ready")

    assert status == 200
    assert ready_status == 503 and ready["checks"]["cache"] == "failing"
    warnings = [record for record in log_records(server) if record["logger"] == "todo.throttling"]
    assert [record["level"] for record in warnings] == ["WARNING"]
