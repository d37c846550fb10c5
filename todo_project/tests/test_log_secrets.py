"""A secret in the query string, for real: planted in served, refused, failing and timed-out requests to a
gunicorn, it appears nowhere in what the server wrote; and a 1 MB path makes no line past the bound."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from authjwt.tokens import mint_token
from common.logsafe import TRACEBACK_LIMIT
from todo_project.tests.servers import Client, TcpProxy, postgres_server, serve, through_proxy

pytestmark = pytest.mark.reliability

# A record's fields are cut to 500 characters each and its traceback to TRACEBACK_LIMIT.
LINE_BOUND = TRACEBACK_LIMIT + 4000


def test_no_query_string_secret_reaches_the_logs(
    server_env: dict[str, str], server_database: str, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    secret = f"leak-{uuid.uuid4().hex}"
    query = f"?token={secret}&next=/x?y={secret}"
    user, other, limited, failing_user, hung_user = (
        f"{name}-{uuid.uuid4().hex[:8]}" for name in ("logs", "other", "limited", "failing", "hung")
    )
    with TcpProxy(postgres_server()) as proxy:
        env = {
            **{name: value for name, value in server_env.items() if name != "REDIS_URL"},
            # A database connection that hangs outlasts gunicorn's worker timeout.
            "DATABASE_URL": through_proxy(server_database, proxy, connect_timeout="10"),
            "GUNICORN_CMD_ARGS": "--timeout 2",
            # Counted in the one worker's memory (no REDIS_URL): a fresh count, whatever other tests did.
            "API_THROTTLE_RATE": "4/minute",
        }
        with serve(env, tmp_path / "server.log", workers=1) as server:
            probes = [
                (mint_token(user), f"/api/{user}/tasks/{query}", 200),
                ("junk", f"/api/{user}/tasks/{query}", 401),
                (mint_token(user), f"/api/{other}/tasks/{query}", 403),
                (None, f"/no/such/page{query}", 404),
                *[(mint_token(limited), f"/api/{limited}/tasks/{query}", 200)] * 4,
                (mint_token(limited), f"/api/{limited}/tasks/{query}", 429),
                # Past the edge's 8 KiB request line: refused there, and logged by it with its path cut short.
                (None, f"/{'a' * 1_000_000}{query}", 414),
            ]
            statuses = [Client(server, token=token).request("GET", path).status for token, path, _ in probes]
            proxy.cut()
            failing = Client(server, token=mint_token(failing_user)).request(
                "GET", f"/api/{failing_user}/tasks/{query}"
            )
            proxy.cut(hang=True)
            try:
                Client(server, token=mint_token(hung_user), timeout=15).request(
                    "GET", f"/api/{hung_user}/tasks/{query}"
                )
            except OSError:
                pass  # the worker was killed mid-request: no answer is the expected outcome
            proxy.restore()
    record_property("log_probes", len(probes) + 2)

    assert statuses == [expected for _, _, expected in probes]
    assert failing.status == 503
    text = server.log.read_text()
    assert "WORKER TIMEOUT" in text, "the worker timeout did not happen: the test proves nothing about it"
    assert "Error handling request GET /api/" in text
    assert secret not in text
    longest = max(len(line) for line in text.splitlines())
    assert longest <= LINE_BOUND, f"a log line of {longest} characters"
