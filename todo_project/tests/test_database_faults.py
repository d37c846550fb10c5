"""A failing database, for real: gunicorn reaches PostgreSQL through a proxy the tests cut and restore, and
triggers make writes fail inside the database. The service answers in its error shape, quickly, recovers by
itself, and never keeps half a request's writes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
import pytest

from authjwt.tokens import mint_token
from todo_project.tests.servers import Client, Response, Server, TcpProxy, postgres_server, serve, through_proxy

pytestmark = pytest.mark.reliability

# PostgreSQL connections give up after this many seconds (the deployed default is 5).
CONNECT_TIMEOUT = 2
USER = f"faulty-{uuid.uuid4().hex[:8]}"
# Names the server's database connections, to count them in pg_stat_activity.
APPLICATION = f"reliability-{uuid.uuid4().hex[:8]}"


@dataclass
class Outage:
    server: Server
    proxy: TcpProxy
    client: Client
    task: dict
    database: str

    def connections(self) -> int:
        """How many database connections the server's workers hold open."""
        with psycopg.connect(self.database) as connection:
            query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            return connection.execute(query, [APPLICATION]).fetchone()[0]

    def wait_for_connections(self, count: int, seconds: float = 5) -> int:
        """The number of connections once it is ``count``, or after ``seconds``: PostgreSQL notices a
        connection cut under it only when it next reads from it, a moment later."""
        deadline = time.monotonic() + seconds
        while (current := self.connections()) != count and time.monotonic() < deadline:
            time.sleep(0.05)
        return current


@pytest.fixture(scope="module")
def outage(
    server_env: dict[str, str], server_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Outage]:
    with TcpProxy(postgres_server()) as proxy:
        url = through_proxy(server_database, proxy, connect_timeout=str(CONNECT_TIMEOUT), application_name=APPLICATION)
        env = {**server_env, "DATABASE_URL": url}
        with serve(env, tmp_path_factory.mktemp("faults") / "server.log", workers=2) as server:
            client = Client(server, token=mint_token(USER), timeout=30)
            task = client.json("POST", f"/api/{USER}/tasks/", {"title": "survive the outage"}).json()
            yield Outage(server, proxy, client, task, server_database)


@pytest.fixture
def cut(outage: Outage, record_property: pytest.RecordProperty) -> Iterator[Outage]:
    """Every request first succeeds; then the tests cut the database; it is back afterwards in any case."""
    assert outage.client.request("GET", f"/api/{USER}/tasks/").status == 200
    record_property("faults_injected", 1)
    try:
        yield outage
    finally:
        outage.proxy.restore()


def timed(outage: Outage, method: str, path: str, payload: object = None) -> tuple[Response, float]:
    started = time.monotonic()
    response = outage.client.json(method, path, payload)
    return response, time.monotonic() - started


def routes(outage: Outage) -> list[tuple[str, str, object]]:
    task = f"/api/{USER}/tasks/{outage.task['id']}/"
    return [
        ("GET", f"/api/{USER}/tasks/", None),
        ("POST", f"/api/{USER}/tasks/", {"title": "written during the outage"}),
        ("GET", task, None),
        ("PATCH", task, {"title": "changed during the outage"}),
        ("PATCH", f"{task}complete/", None),
        ("DELETE", task, None),
    ]


def assert_unavailable(response: Response) -> None:
    assert response.status == 503, response.body[:300]
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "type": "server_error",
        "errors": [
            {
                "code": "service_unavailable",
                "detail": "The service is temporarily unavailable; try again shortly.",
                "attr": None,
            }
        ],
    }


@pytest.mark.parametrize("hang", [False, True], ids=["connections refused", "connections unanswered"])
def test_without_its_database_the_api_answers_503_within_the_connect_timeout(cut: Outage, hang: bool) -> None:
    cut.proxy.cut(hang=hang)

    for method, path, payload in routes(cut):
        response, elapsed = timed(cut, method, path, payload)
        assert_unavailable(response)
        assert elapsed < CONNECT_TIMEOUT + 2, (method, path, elapsed)
    ready, elapsed = timed(cut, "GET", "/ready")
    assert ready.status == 503 and elapsed < CONNECT_TIMEOUT + 2
    assert ready.json() == {"status": "unavailable", "checks": {"database": "failing", "cache": "ok"}}
    health, elapsed = timed(cut, "GET", "/health")
    assert (health.status, health.json()) == (200, {"status": "ok"}) and elapsed < 1


def test_when_the_database_is_back_the_same_workers_serve_again_from_the_first_request(cut: Outage) -> None:
    workers = cut.server.worker_pids()
    assert len(workers) == 2
    path = f"/api/{USER}/tasks/{cut.task['id']}/"
    # Both workers hold a connection, so that both meet one the outage killed.
    for _ in range(20):
        if cut.connections() == len(workers):
            break
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: Client(cut.server, token=mint_token(USER)).request("GET", path), range(8)))
    assert cut.connections() == len(workers)

    cut.proxy.cut()
    assert cut.client.request("GET", "/health").status == 200
    assert cut.wait_for_connections(0) == 0
    cut.proxy.restore()

    # Each pooled connection is found dead before it is used, and replaced: not one request fails.
    statuses = [cut.client.request("GET", path).status for _ in range(20)]
    assert statuses == [200] * 20
    assert cut.client.request("GET", "/ready").status == 200
    assert cut.server.worker_pids() == workers


def test_nothing_is_written_while_the_database_is_away(cut: Outage) -> None:
    cut.proxy.cut()
    for method, path, payload in routes(cut):
        assert_unavailable(cut.client.json(method, path, payload))
    cut.proxy.restore()

    tasks = cut.client.request("GET", f"/api/{USER}/tasks/?search=outage").json()["results"]
    assert [(task["title"], task["completed"]) for task in tasks] == [("survive the outage", False)]


@pytest.fixture
def trigger(server_database: str, record_property: pytest.RecordProperty) -> Iterator[psycopg.Connection]:
    """A connection to the servers' database for creating triggers, which are dropped afterwards."""
    with psycopg.connect(server_database, autocommit=True) as connection:
        record_property("faults_injected", 1)
        try:
            yield connection
        finally:
            connection.execute("DROP TRIGGER IF EXISTS reliability_fault ON tasks_task")
            connection.execute("DROP FUNCTION IF EXISTS reliability_fault()")


def row(connection: psycopg.Connection, task_id: int) -> tuple[object, ...]:
    # Timestamps as text: a value Python cannot hold ('infinity') must show in a failure, not raise.
    query = "SELECT title, completed, updated_at::text, deleted_at::text FROM tasks_task WHERE id = %s"
    return connection.execute(query, [task_id]).fetchone()


def test_a_write_that_fails_after_reaching_the_database_leaves_nothing_half_written(
    trigger: psycopg.Connection, outage: Outage
) -> None:
    marker = f"halfway-{uuid.uuid4().hex[:8]}"
    # The toggle's UPDATE succeeds, but the row it returns holds a timestamp Python cannot read: the request
    # fails after its write reached the database. Only the request's transaction can take the write back.
    trigger.execute(
        f"""
        CREATE FUNCTION reliability_fault() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.updated_at := 'infinity'; RETURN NEW; END $$;
        CREATE TRIGGER reliability_fault BEFORE UPDATE ON tasks_task
        FOR EACH ROW WHEN (NEW.title = '{marker}') EXECUTE FUNCTION reliability_fault();
        """
    )
    client = outage.client
    task = client.json("POST", f"/api/{USER}/tasks/", {"title": marker}).json()
    before = (row(trigger, task["id"]), client.request("GET", f"/api/{USER}/tasks/{task['id']}/").body)

    response = client.request("PATCH", f"/api/{USER}/tasks/{task['id']}/complete/")

    assert response.status == 500
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["errors"][0]["code"] == "error"
    assert (row(trigger, task["id"]), client.request("GET", f"/api/{USER}/tasks/{task['id']}/").body) == before


def test_a_write_the_database_refuses_is_a_json_500_and_changes_nothing(
    trigger: psycopg.Connection, outage: Outage
) -> None:
    marker = f"refused-{uuid.uuid4().hex[:8]}"
    trigger.execute(
        f"""
        CREATE FUNCTION reliability_fault() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused by a test trigger'; END $$;
        CREATE TRIGGER reliability_fault BEFORE INSERT OR UPDATE ON tasks_task
        FOR EACH ROW WHEN (NEW.title = '{marker}') EXECUTE FUNCTION reliability_fault();
        """
    )
    client = outage.client
    task = client.json("POST", f"/api/{USER}/tasks/", {"title": "before"}).json()
    before = row(trigger, task["id"])
    count = "SELECT count(*) FROM tasks_task WHERE user_id = %s"
    tasks = trigger.execute(count, [USER]).fetchone()

    created = client.json("POST", f"/api/{USER}/tasks/", {"title": marker})
    patched = client.json("PATCH", f"/api/{USER}/tasks/{task['id']}/", {"title": marker, "completed": True})

    for response in (created, patched):
        assert response.status == 500
        assert response.headers["Content-Type"] == "application/json"
        assert response.json()["type"] == "server_error"
    assert row(trigger, task["id"]) == before
    assert trigger.execute(count, [USER]).fetchone() == tasks


def test_without_a_connect_timeout_in_the_url_the_deployed_default_bounds_a_hang(
    server_env: dict[str, str],
    server_database: str,
    tmp_path_factory: pytest.TempPathFactory,
    record_property: pytest.RecordProperty,
) -> None:
    with TcpProxy(postgres_server()) as proxy:
        env = {**server_env, "DATABASE_URL": through_proxy(server_database, proxy)}
        with serve(env, tmp_path_factory.mktemp("default-timeout") / "server.log") as server:
            proxy.cut(hang=True)
            record_property("faults_injected", 1)
            started = time.monotonic()
            try:
                response = Client(server, token=mint_token(USER), timeout=15).request("GET", f"/api/{USER}/tasks/")
            finally:
                elapsed = time.monotonic() - started
                proxy.restore()  # frees a worker still waiting, so that the server can stop

    assert_unavailable(response)
    # settings.py's default: 5 s, not libpq's (none: wait for ever, until gunicorn kills the worker).
    assert elapsed < 5 + 2
