"""Idempotency keys through the edge to gunicorn with several workers on PostgreSQL: a retried create, a create
whose answer was lost, and one key sent by many clients at once each make exactly one task."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from authjwt.tokens import mint_token
from todo_project.tests.servers import Client, Response, Server, serve

pytestmark = pytest.mark.reliability

WORKERS = 3
CLIENTS = 12


@pytest.fixture(scope="module")
def server(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(server_env, tmp_path_factory.mktemp("idempotency") / "server.log", workers=WORKERS) as server:
        yield server


@pytest.fixture
def user() -> str:
    return f"retrying-{uuid.uuid4().hex[:12]}"


def tasks_of(database: str, user: str) -> int:
    with psycopg.connect(database) as connection:
        return connection.execute("SELECT count(*) FROM tasks_task WHERE user_id = %s", [user]).fetchone()[0]


def post(server: Server, user: str, key: str) -> Response:
    return Client(server, token=mint_token(user)).json(
        "POST", f"/api/{user}/tasks/", {"title": "Buy milk"}, {"Idempotency-Key": key}
    )


def test_a_create_retried_through_the_edge_is_answered_again_and_makes_one_task(
    server: Server, server_database: str, user: str
) -> None:
    key = str(uuid.uuid4())

    first = post(server, user, key)
    again = post(server, user, key)

    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert tasks_of(server_database, user) == 1


def test_a_create_whose_answer_was_lost_is_not_made_twice_by_its_retry(
    server: Server, server_database: str, user: str
) -> None:
    key = str(uuid.uuid4())
    body = json.dumps({"title": "Buy milk"}).encode()
    request = (
        f"POST /api/{user}/tasks/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {mint_token(user)}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nIdempotency-Key: {key}\r\n\r\n"
    ).encode() + body
    # The train enters a tunnel: the request is sent, the connection dropped before any answer is read.
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(request)
    deadline = time.monotonic() + 10
    while tasks_of(server_database, user) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)

    retried = post(server, user, key)

    assert retried.status == 201, retried.body
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert tasks_of(server_database, user) == 1


def test_many_clients_sending_one_key_at_once_make_one_task(
    server: Server, server_database: str, user: str, record_property: pytest.RecordProperty
) -> None:
    key = str(uuid.uuid4())
    start = threading.Barrier(CLIENTS)

    def send() -> Response:
        start.wait(timeout=30)
        return post(server, user, key)

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        answers = list(pool.map(lambda _: send(), range(CLIENTS)))
    record_property("concurrent_operations", CLIENTS)

    executed = [answer for answer in answers if answer.status == 201 and "Idempotent-Replayed" not in answer.headers]
    replayed = [answer for answer in answers if answer.headers.get("Idempotent-Replayed") == "true"]
    busy = [answer for answer in answers if answer.status == 409]
    assert len(executed) == 1
    assert len(executed) + len(replayed) + len(busy) == CLIENTS
    assert all(answer.body == executed[0].body for answer in replayed)
    assert all(answer.error_code == "idempotency_key_in_use" and answer.headers["Retry-After"] for answer in busy)
    assert tasks_of(server_database, user) == 1
    # Those told to retry get the same answer when they do.
    for _ in busy:
        assert post(server, user, key).body == executed[0].body
