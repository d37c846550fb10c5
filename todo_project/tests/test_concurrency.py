"""Real concurrent clients through the edge to gunicorn with several workers on PostgreSQL: no write is ever lost."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
import pytest

from authjwt.tokens import mint_token
from todo_project.tests.servers import Client, Response, Server, serve

pytestmark = pytest.mark.reliability

T = TypeVar("T")
WORKERS = 4
CLIENTS = 20
TOGGLES = 40


@pytest.fixture(scope="module")
def server(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Sync workers, as deployed: four processes, each serving one request at a time.
    with serve(server_env, tmp_path_factory.mktemp("concurrency") / "server.log", workers=WORKERS) as server:
        yield server


@pytest.fixture
def user() -> str:
    return f"busy-{uuid.uuid4().hex[:12]}"


def all_at_once(jobs: list[Callable[[], T]]) -> list[T]:
    """Run every job in its own thread, released together so that they really overlap."""
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], T]) -> T:
        start.wait(timeout=30)
        return job()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def rows(database: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database) as connection:
        return connection.execute(sql, params).fetchall()


def test_twenty_clients_creating_fifty_tasks_each_make_exactly_a_thousand(
    server: Server, server_database: str, user: str, record_property: pytest.RecordProperty
) -> None:
    def create_fifty(client_number: int) -> Callable[[], list[Response]]:
        client = Client(server, token=mint_token(user))
        path = f"/api/{user}/tasks/"
        return lambda: [client.json("POST", path, {"title": f"client {client_number} task {n}"}) for n in range(50)]

    responses = [response for batch in all_at_once([create_fifty(n) for n in range(CLIENTS)]) for response in batch]
    record_property("concurrent_operations", len(responses))

    assert [response.status for response in responses] == [201] * 1000
    created = {response.json()["id"]: response.json()["title"] for response in responses}
    assert len(created) == 1000
    assert set(created.values()) == {f"client {c} task {n}" for c in range(CLIENTS) for n in range(50)}
    reader = Client(server, token=mint_token(user))
    pages = [
        reader.request("GET", f"/api/{user}/tasks/?limit=200&offset={offset}").json() for offset in range(0, 1000, 200)
    ]
    assert {page["count"] for page in pages} == {1000}
    assert {task["id"]: task["title"] for page in pages for task in page["results"]} == created
    assert dict(rows(server_database, "SELECT id, title FROM tasks_task WHERE user_id = %s", user)) == created


@pytest.mark.parametrize("round_", range(3))
def test_forty_concurrent_toggles_of_one_task_are_never_lost(
    server: Server, server_database: str, user: str, round_: int, record_property: pytest.RecordProperty
) -> None:
    owner = Client(server, token=mint_token(user))
    task = owner.json("POST", f"/api/{user}/tasks/", {"title": "flip me"}).json()

    def toggle() -> Response:
        return Client(server, token=mint_token(user)).request("PATCH", f"/api/{user}/tasks/{task['id']}/complete/")

    responses = all_at_once([toggle] * TOGGLES)
    record_property("concurrent_operations", len(responses))

    assert [response.status for response in responses] == [200] * TOGGLES
    # Each toggle answers with the state it made: an atomic flip makes half of them true, half false.
    # A read-modify-write would lose flips, and answer the same state twice.
    states = [response.json()["completed"] for response in responses]
    assert states.count(True) == states.count(False) == TOGGLES // 2
    assert owner.request("GET", f"/api/{user}/tasks/{task['id']}/").json()["completed"] is (TOGGLES % 2 == 1)
    assert rows(server_database, "SELECT completed FROM tasks_task WHERE id = %s", task["id"]) == [(False,)]


PRIORITIES = ["low", "medium", "high"]


def patches(round_: int) -> dict[str, list[Any]]:
    """For each field, the values two clients each send in this round: never a value of the round before."""
    return {
        "title": [f"title {round_}.{n}" for n in range(2)],
        "description": [f"description {round_}.{n}" for n in range(2)],
        "priority": [PRIORITIES[round_ % 3]] * 2,
        "completed": [round_ % 2 == 0] * 2,
        "due_date": [f"2030-01-{round_ + 1:02}T0{n}:00:00Z" for n in range(2)],
        "tags": [[f"round-{round_}", f"client-{n}"] for n in range(2)],
    }


def test_concurrent_patches_of_different_fields_keep_every_field_and_the_row_valid(
    server: Server, server_database: str, user: str, record_property: pytest.RecordProperty
) -> None:
    owner = Client(server, token=mint_token(user))
    task = owner.json("POST", f"/api/{user}/tasks/", {"title": "shared"}).json()
    path = f"/api/{user}/tasks/{task['id']}/"
    sent = 0

    for round_ in range(10):
        values = patches(round_)

        def patch(field: str, value: Any) -> Callable[[], Response]:
            return lambda: Client(server, token=mint_token(user)).json("PATCH", path, {field: value})

        responses = all_at_once([patch(field, value) for field, choices in values.items() for value in choices])
        sent += len(responses)

        assert [response.status for response in responses] == [200] * len(responses)
        after = owner.request("GET", path)
        assert after.status == 200
        # Every field holds a value sent for it in this round: none was overwritten by a stale copy of the row.
        for field, choices in values.items():
            assert after.json()[field] in choices, (round_, field, after.json())
    record_property("concurrent_operations", sent)

    [(title, description, priority, completed)] = rows(
        server_database, "SELECT title, description, priority, completed FROM tasks_task WHERE id = %s", task["id"]
    )
    final = owner.request("GET", path).json()
    assert (title, description, PRIORITIES[priority - 1], completed) == (
        final["title"],
        final["description"],
        final["priority"],
        final["completed"],
    )


def test_of_concurrent_writes_with_the_same_if_match_exactly_one_wins(
    server: Server, user: str, record_property: pytest.RecordProperty
) -> None:
    owner = Client(server, token=mint_token(user))
    task = owner.json("POST", f"/api/{user}/tasks/", {"title": "contended"})
    path = f"/api/{user}/tasks/{task.json()['id']}/"
    etag = task.headers["ETag"]

    def write(n: int) -> Callable[[], Response]:
        return lambda: Client(server, token=mint_token(user)).json(
            "PATCH", path, {"title": f"writer {n}"}, {"If-Match": etag}
        )

    responses = all_at_once([write(n) for n in range(CLIENTS)])
    record_property("concurrent_operations", len(responses))

    statuses = sorted(response.status for response in responses)
    assert statuses == [200] + [412] * (CLIENTS - 1)
    [winner] = [response.json()["title"] for response in responses if response.status == 200]
    assert owner.request("GET", path).json()["title"] == winner
