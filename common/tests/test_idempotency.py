"""Idempotency-Key on the task routes' writes: a retried write happens once, whatever the client resends."""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from authjwt.tokens import USER_ID_MAX_LENGTH
from common import models as common_models
from common.models import IdempotencyKey
from conftest import ALICE, BOB, client_for
from tasks import services
from tasks.models import Task

BASE = f"/api/{ALICE}/tasks/"


def new_key() -> str:
    return str(uuid.uuid4())


def keyed(key: str, **headers: str) -> dict[str, str]:
    return {"HTTP_IDEMPOTENCY_KEY": key, **{f"HTTP_{name.upper().replace('-', '_')}": v for name, v in headers.items()}}


def answer(response: Any) -> tuple[int, bytes, dict[str, str | None]]:
    """What a replay must repeat."""
    return (
        response.status_code,
        response.content,
        {name: response.headers.get(name) for name in ("Content-Type", "Location", "ETag")},
    )


@pytest.fixture
def task(make_task: Callable[..., Task]) -> Task:
    return make_task(title="Original")


def test_a_retried_create_gets_the_first_answer_again_and_makes_no_second_task(alice: APIClient) -> None:
    key = new_key()

    first = alice.post(BASE, {"title": "Buy milk"}, **keyed(key))
    again = alice.post(BASE, {"title": "Buy milk"}, **keyed(key))

    assert first.status_code == 201
    assert answer(again) == answer(first)
    assert first.headers["Location"] and first.headers["ETag"] and first.headers["Content-Type"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert Task.objects.filter(user_id=ALICE).count() == 1


def test_a_replay_keeps_the_api_caching_headers(alice: APIClient) -> None:
    key = new_key()
    alice.post(BASE, {"title": "Buy milk"}, **keyed(key))

    again = alice.post(BASE, {"title": "Buy milk"}, **keyed(key))

    assert "private" in again.headers["Cache-Control"]
    assert "Authorization" in again.headers["Vary"]


WRITES = [
    ("put", "{id}/", {"title": "Replaced"}),
    ("patch", "{id}/", {"title": "Patched"}),
    ("delete", "{id}/", None),
    # A flip: run twice, it would reopen the task.
    ("patch", "{id}/complete/", None),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_every_write_of_a_task_runs_once_per_key(
    alice: APIClient, task: Task, method: str, path: str, body: Any
) -> None:
    key = new_key()
    url = BASE + path.format(id=task.id)

    first = getattr(alice, method)(url, body, **keyed(key))
    version = Task.objects.get(pk=task.pk).version
    again = getattr(alice, method)(url, body, **keyed(key))

    assert first.status_code in (200, 204)
    assert answer(again) == answer(first)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Task.objects.get(pk=task.pk).version == version == task.version + 1


def test_a_replayed_delete_has_no_content_type(alice: APIClient, task: Task) -> None:
    key = new_key()
    alice.delete(f"{BASE}{task.id}/", **keyed(key))

    again = alice.delete(f"{BASE}{task.id}/", **keyed(key))

    assert again.status_code == 204
    assert "Content-Type" not in again.headers


@pytest.mark.parametrize(
    "change",
    [
        lambda key: ("post", BASE, {"title": "Buy bread"}, keyed(key)),  # another body
        lambda key: ("post", BASE, {"title": "Buy milk", "priority": "high"}, keyed(key)),
        lambda key: ("post", f"{BASE}?x=1", {"title": "Buy milk"}, keyed(key)),  # another URL
        lambda key: ("put", f"{BASE}1/", {"title": "Buy milk"}, keyed(key)),  # another method and URL
        lambda key: ("post", BASE, {"title": "Buy milk"}, keyed(key, **{"If-Match": "*"})),  # a precondition
    ],
)
def test_a_key_reused_for_another_request_is_a_422_that_changes_nothing(
    alice: APIClient, change: Callable[[str], tuple[str, str, Any, dict[str, str]]]
) -> None:
    key = new_key()
    alice.post(BASE, {"title": "Buy milk"}, **keyed(key))
    before = list(Task.objects.values())

    method, url, body, headers = change(key)
    response = getattr(alice, method)(url, body, **headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert "new key" in response.json()["errors"][0]["detail"]
    assert list(Task.objects.values()) == before


def test_keys_are_per_user_so_bob_reusing_alices_key_gets_his_own_task(alice: APIClient, bob: APIClient) -> None:
    key = new_key()
    alices = alice.post(BASE, {"title": "Same title"}, **keyed(key))

    bobs = bob.post(f"/api/{BOB}/tasks/", {"title": "Same title"}, **keyed(key))

    assert bobs.status_code == 201
    assert "Idempotent-Replayed" not in bobs.headers
    assert bobs.json()["user_id"] == BOB and bobs.json()["id"] != alices.json()["id"]
    assert Task.objects.filter(user_id=BOB).count() == 1


def test_bob_sending_alices_key_to_her_tasks_is_refused_before_the_key_is_read(
    alice: APIClient, bob: APIClient
) -> None:
    key = new_key()
    alice.post(BASE, {"title": "Buy milk"}, **keyed(key))

    response = bob.post(BASE, {"title": "Buy milk"}, **keyed(key))

    assert response.status_code == 403
    assert "Idempotent-Replayed" not in response.headers
    assert "Buy milk" not in response.content.decode()
    assert IdempotencyKey.objects.filter(user_id=BOB).count() == 0


def test_a_client_error_is_stored_and_replayed_like_a_success(alice: APIClient) -> None:
    # A key names one attempt at one operation, and its answer is final, errors too (as Stripe's keys do):
    # the client that corrects its request makes a new operation, with a new key.
    key = new_key()

    first = alice.post(BASE, {"title": ""}, **keyed(key))
    again = alice.post(BASE, {"title": ""}, **keyed(key))
    corrected = alice.post(BASE, {"title": "Buy milk"}, **keyed(key))

    assert first.status_code == 400
    assert answer(again) == answer(first)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert corrected.status_code == 422
    assert not Task.objects.exists()


def test_a_server_error_keeps_neither_the_write_nor_the_key_so_a_retry_runs(
    alice: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    create = services.task_create

    def create_then_fail(**fields: Any) -> Task:
        create(**fields)  # the task is written, then the request fails
        raise RuntimeError("the worker fell over")

    monkeypatch.setattr(services, "task_create", create_then_fail)
    key = new_key()
    alice.raise_request_exception = False

    failed = alice.post(BASE, {"title": "Buy milk"}, **keyed(key))

    assert failed.status_code == 500
    assert not Task.objects.exists()
    assert not IdempotencyKey.objects.exists()
    monkeypatch.setattr(services, "task_create", create)
    retried = alice.post(BASE, {"title": "Buy milk"}, **keyed(key))
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert Task.objects.count() == 1


def test_the_key_is_stored_in_the_writes_own_transaction(alice: APIClient) -> None:
    key = new_key()

    with CaptureQueriesContext(connection) as queries:
        alice.post(BASE, {"title": "Buy milk"}, **keyed(key))

    statements = [query["sql"].split()[0].upper() for query in queries.captured_queries]
    # Inside the test's own transaction, the request's outermost atomic block is a savepoint: no statement
    # of the request may run outside it.
    first, last = statements.index("SAVEPOINT"), len(statements) - 1 - statements[::-1].index("RELEASE")
    written = [i for i, sql in enumerate(statements) if sql in ("INSERT", "UPDATE")]
    assert len(written) == 3  # the key, the task, the answer on the key
    assert all(first < i < last for i in written)


def test_the_header_is_ignored_on_a_read(alice: APIClient, task: Task) -> None:
    for key in ("", "ü", new_key()):
        response = alice.get(f"{BASE}{task.id}/", **keyed(key))

        assert response.status_code == 200
        assert "Idempotent-Replayed" not in response.headers
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("key", ["", " leading", "trailing ", "x" * 256, "caf\u00e9", "tab\there"])
def test_a_malformed_key_is_a_400_saying_what_a_key_may_be(alice: APIClient, key: str) -> None:
    response = alice.post(BASE, {"title": "Buy milk"}, **keyed(key))

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["code"], error["attr"]) == ("invalid_idempotency_key", "Idempotency-Key")
    assert "printable ASCII" in error["detail"]
    assert not Task.objects.exists()


@pytest.mark.parametrize("key", ["a", "x" * 255, '"8e03978e-40d5-43e8-bc93-6894a57f9324"', "with inner spaces ~!"])
def test_any_printable_ascii_key_of_up_to_255_characters_is_taken(alice: APIClient, key: str) -> None:
    assert alice.post(BASE, {"title": "Buy milk"}, **keyed(key)).status_code == 201
    assert alice.post(BASE, {"title": "Buy milk"}, **keyed(key)).headers["Idempotent-Replayed"] == "true"


def test_a_key_past_its_life_runs_again(alice: APIClient, settings: Any) -> None:
    key = new_key()
    alice.post(BASE, {"title": "Buy milk"}, **keyed(key))
    IdempotencyKey.objects.update(
        created_at=timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS, seconds=1)
    )

    again = alice.post(BASE, {"title": "Buy milk"}, **keyed(key))

    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert Task.objects.count() == 2
    assert IdempotencyKey.objects.count() == 1


def test_purge_deletes_the_keys_past_their_life_and_keeps_the_others(alice: APIClient, settings: Any) -> None:
    life = timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    for _ in range(3):
        alice.post(BASE, {"title": "Buy milk"}, **keyed(new_key()))
    old, young = timezone.now() - life - timedelta(seconds=1), timezone.now() - life + timedelta(minutes=1)
    rows = list(IdempotencyKey.objects.order_by("pk"))
    IdempotencyKey.objects.filter(pk__in=[rows[0].pk, rows[1].pk]).update(created_at=old)
    IdempotencyKey.objects.filter(pk=rows[2].pk).update(created_at=young)

    out = io.StringIO()
    call_command("purge_idempotency_keys", stdout=out)

    assert list(IdempotencyKey.objects.values_list("pk", flat=True)) == [rows[2].pk]
    assert "Deleted 2 idempotency keys." in out.getvalue()
    assert Task.objects.count() == 3


def test_the_key_column_holds_any_user_id_a_token_may_carry() -> None:
    assert common_models.USER_ID_MAX_LENGTH == USER_ID_MAX_LENGTH


# Two requests with one key at once, each on its own database connection, on PostgreSQL.


class Gate:
    """Holds task_create's transaction open: ``written`` once the task is written, until ``release`` is set."""

    def __init__(self) -> None:
        self.written, self.release = threading.Event(), threading.Event()


@pytest.fixture
def slow_create(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    create = services.task_create
    gate = Gate()

    def slow(**fields: Any) -> Task:
        task = create(**fields)
        gate.written.set()
        gate.release.wait(timeout=5)
        return task

    monkeypatch.setattr(services, "task_create", slow)
    yield gate
    gate.release.set()


def in_thread(job: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(job())
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def wait_for_lock_wait(seconds: float = 5) -> None:
    """Until a backend waits on a lock: the second INSERT, behind the first's uncommitted one."""
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("no request waited for the other's key")


@pytest.mark.django_db(transaction=True)
def test_two_requests_with_one_key_at_once_create_one_task_and_the_second_replays_the_first(
    slow_create: Gate,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL")
    key = new_key()

    def post() -> Any:
        return client_for(ALICE).post(BASE, {"title": "Buy milk"}, **keyed(key))

    first, first_result = in_thread(post)
    assert slow_create.written.wait(5)  # the first has written its task and holds its transaction open
    second, second_result = in_thread(post)
    wait_for_lock_wait()
    slow_create.release.set()
    first.join(10)
    second.join(10)

    assert first_result[0].status_code == second_result[0].status_code == 201
    assert answer(second_result[0]) == answer(first_result[0])
    assert second_result[0].headers["Idempotent-Replayed"] == "true"
    assert Task.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_request_waiting_too_long_for_its_keys_first_request_is_a_409_to_retry(
    slow_create: Gate, settings: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL")
    settings.IDEMPOTENCY_KEY_WAIT_MS = 100
    key = new_key()

    def post() -> Any:
        return client_for(ALICE).post(BASE, {"title": "Buy milk"}, **keyed(key))

    first, first_result = in_thread(post)
    assert slow_create.written.wait(5)
    busy = post()
    slow_create.release.set()
    first.join(10)
    retried = post()

    assert busy.status_code == 409
    assert busy.json()["errors"][0]["code"] == "idempotency_key_in_use"
    assert busy.headers["Retry-After"] == "1"
    assert answer(retried) == answer(first_result[0])
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert Task.objects.count() == 1
