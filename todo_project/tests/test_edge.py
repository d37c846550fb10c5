"""The edge (deploy/nginx.conf): slow clients cost the others nothing, connections are kept alive, and what is
malformed or too large is answered by nginx in the JSON error shape without ever reaching a gunicorn worker."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from authjwt.tokens import mint_token
from todo_project.tests.servers import Server, children, command_line, serve

pytestmark = pytest.mark.reliability

SLOW_CLIENTS = 50
SLOW_FOR = 15.0  # seconds
# A header line, then a body byte, every half second: far too slow for either to complete in SLOW_FOR.
TRICKLE_EVERY = 0.5
PROBE_EVERY = 0.2
PROBE_P99 = 1.0  # seconds


@pytest.fixture(scope="module")
def edge(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(server_env, tmp_path_factory.mktemp("edge") / "server.log", workers=2) as server:
        yield server


def app_paths(server: Server) -> list[str]:
    """The paths of the requests the app served, from its request log."""
    records = [json.loads(line) for line in server.log_lines() if line.startswith("{")]
    return [record["path"] for record in records if record["logger"] == "todo.request"]


def _trickle(port: int, head: bytes, body: bytes, until: float) -> None:
    """Sends ``head`` at once, then ``body`` a byte at a time; when the server drops it, comes back."""
    while time.monotonic() < until:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(head)
                for byte in body:
                    if time.monotonic() >= until:
                        return
                    sock.sendall(bytes([byte]))
                    time.sleep(TRICKLE_EVERY)
        except OSError:  # dropped by the server's timeout: an attacker simply reconnects
            continue


def _probe(port: int, until: float) -> list[float | None]:
    """GET /health every PROBE_EVERY seconds: each one's duration, or None when it got no 200 in time."""
    durations: list[float | None] = []
    while time.monotonic() < until:
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/health")
            ok = connection.getresponse().status == 200
        except OSError:
            ok = False
        finally:
            connection.close()
        elapsed = time.monotonic() - started
        durations.append(elapsed if ok else None)
        time.sleep(max(PROBE_EVERY - elapsed, 0))
    return durations


def test_slow_clients_do_not_delay_the_others(edge: Server, record_property: pytest.RecordProperty) -> None:
    # Half trickle their headers (they never finish them), half send their headers and trickle a body that the
    # app, with a valid token, would wait for.
    slow_headers = b"POST /api/slow/tasks/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    slow_body = (
        f"POST /api/slow/tasks/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {mint_token('slow')}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    until = time.monotonic() + SLOW_FOR
    clients = [
        threading.Thread(
            target=_trickle,
            args=(edge.port, b"", slow_headers * 10, until) if n % 2 else (edge.port, slow_body, b"x" * 1000, until),
        )
        for n in range(SLOW_CLIENTS)
    ]
    for client in clients:
        client.start()
    time.sleep(1)  # every slow client connected and holding on
    durations = _probe(edge.port, until)
    for client in clients:
        client.join()
    record_property("slow_clients", SLOW_CLIENTS)

    answered = sorted(duration for duration in durations if duration is not None)
    assert len(durations) > SLOW_FOR / 2 / PROBE_EVERY
    assert len(answered) == len(durations), f"{len(durations) - len(answered)} of {len(durations)} probes unanswered"
    assert answered[int(len(answered) * 0.99)] < PROBE_P99, answered[-5:]


def test_a_connection_is_kept_alive_across_requests(edge: Server, record_property: pytest.RecordProperty) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", edge.port, timeout=10)
    statuses, local_ports = [], set()
    try:
        for _ in range(5):
            connection.request("GET", "/health")
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
            # http.client reopens a closed connection silently: a new one would have a new local port.
            local_ports.add(connection.sock.getsockname()[1] if connection.sock else None)
    finally:
        connection.close()
    record_property("hostile_requests", 5)

    assert statuses == [200] * 5
    assert len(local_ports) == 1 and None not in local_ports


@dataclass
class Malformed:
    name: str
    request: bytes
    status: int
    code: str


def request(head: str, body: bytes = b"") -> bytes:
    return head.replace("\n", "\r\n").encode() + b"\r\n" + body


def chunked(body: bytes, size: int = 16_384) -> bytes:
    chunks = [body[start : start + size] for start in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"


POST = "POST /api/edge/tasks/ HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\n"
MALFORMED = [
    Malformed("a garbage request line", b"GARBAGE\r\n\r\n", 400, "malformed_request"),
    Malformed(
        "a request line over 8 KiB",
        request(f"GET /{'a' * 9000} HTTP/1.1\nHost: 127.0.0.1\n"),
        414,
        "request_line_too_long",
    ),
    Malformed(
        "a header over 8 KiB",
        request(f"GET /health HTTP/1.1\nHost: 127.0.0.1\nX-Big: {'a' * 9000}\n"),
        431,
        "request_headers_too_large",
    ),
    Malformed(
        "5,000 headers",
        request("GET /health HTTP/1.1\nHost: 127.0.0.1\n" + "".join(f"X-{n}: y\n" for n in range(5000))),
        431,
        "request_headers_too_large",
    ),
    Malformed("Content-Length: abc", request(POST + "Content-Length: abc\n", b"{}"), 400, "malformed_request"),
    Malformed("Content-Length: -1", request(POST + "Content-Length: -1\n", b"{}"), 400, "malformed_request"),
    Malformed(
        "two Content-Lengths", request(POST + "Content-Length: 2\nContent-Length: 3\n", b"{}"), 400, "malformed_request"
    ),
    Malformed(
        "Content-Length with chunked",
        request(POST + "Content-Length: 5\nTransfer-Encoding: chunked\n", b"0\r\n\r\n"),
        400,
        "malformed_request",
    ),
    Malformed("Transfer-Encoding: gzip", request(POST + "Transfer-Encoding: gzip\n", b"{}"), 501, "not_implemented"),
    Malformed(
        "Expect: garbage", request(POST + "Expect: garbage\nContent-Length: 2\n", b"{}"), 417, "expectation_failed"
    ),
    Malformed("HTTP/3.0", request("GET /health HTTP/3.0\nHost: 127.0.0.1\n"), 505, "http_version_not_supported"),
    Malformed("TRACE", request("TRACE /health HTTP/1.1\nHost: 127.0.0.1\n"), 405, "method_not_allowed"),
    Malformed(
        "a body over 64 KiB",
        request(POST + "Content-Length: 70000\n", b"x" * 70_000),
        413,
        "request_too_large",
    ),
    Malformed(
        "a chunked body over 64 KiB",
        request(POST + "Transfer-Encoding: chunked\n", chunked(b"x" * 70_000)),
        413,
        "request_too_large",
    ),
]


def send_raw(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Sends ``data`` as it is and reads the answer: its status, headers (names in lower case) and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(data)
        except OSError:  # answered and closed before taking all of it: the answer is still there
            pass
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()


@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in MALFORMED])
def test_a_malformed_request_is_answered_by_the_edge_in_json(
    edge: Server, case: Malformed, record_property: pytest.RecordProperty
) -> None:
    record_property("hostile_requests", 1)

    status, headers, body = send_raw(edge.port, case.request)

    assert status == case.status, body[:300]
    assert headers["content-type"] == "application/json"
    answer: dict[str, Any] = json.loads(body)
    assert answer["type"] in ("client_error", "server_error")
    assert [(error["code"], error["attr"]) for error in answer["errors"]] == [(case.code, None)]
    # The app stamps every answer with a request id: this one never reached a worker.
    assert "x-request-id" not in headers


def test_a_request_cut_short_is_dropped_and_never_reaches_the_app(
    edge: Server, record_property: pytest.RecordProperty
) -> None:
    half_headers = b"GET /api/cut-short-headers/tasks/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    half_body = b"POST /api/cut-short-body/tasks/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{"
    connections = [socket.create_connection(("127.0.0.1", edge.port), timeout=15) for _ in range(2)]
    started = time.monotonic()
    answers = []
    for sock, data in zip(connections, (half_headers, half_body), strict=True):
        sock.sendall(data)
    for sock in connections:
        with sock:
            # Closed (reset) by the edge's client timeouts (10 s) with nothing to answer; a timeout here fails.
            try:
                answers.append(sock.recv(65536))
            except ConnectionResetError:
                answers.append(b"")
    record_property("hostile_requests", 2)

    assert answers == [b"", b""]
    assert time.monotonic() - started < 15
    assert not [path for path in app_paths(edge) if "cut-short" in path]


def test_the_edge_logs_json_lines_without_query_strings_or_long_paths(
    edge: Server, record_property: pytest.RecordProperty
) -> None:
    secret = f"secret-{time.monotonic_ns()}"
    too_large = request(
        f"{POST.replace('/tasks/', f'/tasks/?token={secret}', 1)}Content-Length: 70000\n", b"x" * 70_000
    )
    long_path = "/" + "p" * 5000
    # The server is the module's: wait for this test's three lines, not for any three.
    before = len([line for line in edge.log_lines() if '"logger": "nginx"' in line])
    send_raw(edge.port, too_large)  # logged by nginx's error log, whose lines hold the request line
    send_raw(edge.port, request(f"TRACE {long_path}?token={secret} HTTP/1.1\nHost: 127.0.0.1\n"))
    record_property("hostile_requests", 2)

    deadline = time.monotonic() + 5  # nginx and the launcher write their lines asynchronously
    while (
        time.monotonic() < deadline
        and len([line for line in edge.log_lines() if '"logger": "nginx"' in line]) < before + 3
    ):
        time.sleep(0.1)
    lines = [line for line in edge.log_lines() if '"logger": "nginx"' in line]
    records = [json.loads(line) for line in lines]
    assert secret not in edge.log.read_text()
    assert any("too large body" in record["message"] for record in records)
    assert {"path": long_path[:256], "status": 405} in [
        {"path": record.get("path"), "status": record.get("status")} for record in records
    ]


def test_when_gunicorn_exits_the_launcher_stops_nginx_and_fails(server_env: dict[str, str], tmp_path: Path) -> None:
    # A supervisor restarts what exits non-zero; a lone nginx would answer 503 for ever instead.
    with serve(server_env, tmp_path / "server.log") as server:
        launcher_children = children(server.process.pid)
        (gunicorn,) = [pid for pid in launcher_children if b"gunicorn" in command_line(pid)]
        os.kill(gunicorn, signal.SIGTERM)
        status = server.process.wait(timeout=40)

        assert status != 0
        assert not [pid for pid in launcher_children if Path(f"/proc/{pid}").exists()]
