"""POST …/tasks/batch/: each operation answered as its single request would be, refs, atomicity, limits, rate."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from conftest import ALICE, BOB, client_for
from tasks.conditional import etag_for
from tasks.models import Task

BASE = f"/api/{ALICE}/tasks/"
BATCH = f"{BASE}batch/"
TRANSACTION = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")


def run(client: APIClient, operations: list[dict[str, Any]], url: str = BATCH, **options: Any) -> Any:
    return client.post(url, {"operations": operations, **options}, format="json")


def snapshot() -> list[tuple[Any, ...]]:
    return list(Task.objects.order_by("id").values_list())


@pytest.fixture
def task(make_task: Callable[..., Task]) -> Task:
    return make_task(title="Before", tags=["work"])


# Each operation answers exactly what its single request answers.


def test_a_create_answers_as_post_does(alice: APIClient) -> None:
    response = run(alice, [{"op": "create", "data": {"title": "Buy milk", "priority": "high"}}])

    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["status"] == 201
    created = Task.objects.get()
    assert result["body"] == alice.get(f"{BASE}{created.id}/").json()
    assert result["etag"] == etag_for(created)
    assert created.user_id == ALICE and created.priority == 3


@pytest.mark.parametrize(
    ("op", "data", "expected"),
    [
        ("update", {"title": "Replaced"}, {"title": "Replaced", "tags": []}),
        ("partial_update", {"title": "Patched"}, {"title": "Patched", "tags": ["work"]}),
        ("complete", {}, {"completed": True}),
        ("complete", {"completed": False}, {"completed": False}),
    ],
)
def test_a_write_answers_as_its_twin_does(
    alice: APIClient, task: Task, op: str, data: dict[str, Any], expected: dict[str, Any]
) -> None:
    response = run(alice, [{"op": op, "id": task.id, "data": data}])

    [result] = response.json()["results"]
    assert result["status"] == 200
    assert result["body"] == alice.get(f"{BASE}{task.id}/").json()
    assert expected.items() <= result["body"].items()
    task.refresh_from_db()
    assert result["etag"] == etag_for(task)


def test_a_delete_hides_the_task_and_a_restore_brings_it_back(alice: APIClient, task: Task) -> None:
    response = run(alice, [{"op": "delete", "id": task.id}])

    assert response.json()["results"] == [{"ref": None, "status": 204, "body": None, "etag": None}]
    assert alice.get(f"{BASE}{task.id}/").status_code == 404

    response = run(alice, [{"op": "restore", "id": task.id}])

    [result] = response.json()["results"]
    assert result["status"] == 200
    assert result["body"] == alice.get(f"{BASE}{task.id}/").json()


def test_an_invalid_operation_gets_the_error_its_twin_gets(alice: APIClient, task: Task) -> None:
    bodies = [
        ("create", None, "POST", BASE, {"title": "", "due_date": "soon"}),
        ("partial_update", task.id, "PATCH", f"{BASE}{task.id}/", {"tags": "work"}),
        ("complete", task.id, "PATCH", f"{BASE}{task.id}/complete/", {"title": "x"}),
    ]
    for op, task_id, method, url, data in bodies:
        operation = {"op": op, "data": data, **({"id": task_id} if task_id else {})}
        [result] = run(alice, [operation]).json()["results"]
        single = alice.generic(method, url, json.dumps(data), content_type="application/json")
        assert (result["status"], result["body"]) == (single.status_code, single.json())
        assert result["status"] == 400
    assert snapshot() == [tuple(Task.objects.filter(pk=task.pk).values_list().get())]


def test_an_operations_if_match_is_its_precondition(alice: APIClient, task: Task) -> None:
    stale, current = f'"{task.id}-{task.version - 1}"', etag_for(task)
    response = run(
        alice,
        [
            {"op": "partial_update", "id": task.id, "data": {"title": "Stale"}, "if_match": stale},
            {"op": "partial_update", "id": task.id, "data": {"title": "Fresh"}, "if_match": current},
        ],
    )

    first, second = response.json()["results"]
    assert first["status"] == 412 and first["body"]["errors"][0]["code"] == "precondition_failed"
    assert second["status"] == 200 and second["body"]["title"] == "Fresh"


def test_the_batch_requests_own_if_match_applies_to_no_operation(alice: APIClient, task: Task) -> None:
    response = alice.post(
        BATCH,
        {"operations": [{"op": "partial_update", "id": task.id, "data": {"title": "After"}}]},
        format="json",
        HTTP_IF_MATCH='"0-0"',
    )

    assert response.json()["results"][0]["status"] == 200


# Refs.


def test_a_later_operation_names_an_earlier_created_task_by_its_ref(alice: APIClient) -> None:
    response = run(
        alice,
        [
            {"op": "create", "ref": "milk", "data": {"title": "Buy milk"}},
            {"op": "partial_update", "id": "$ref:milk", "ref": "patched", "data": {"priority": "high"}},
            {"op": "complete", "id": "$ref:milk"},
            {"op": "delete", "id": "$ref:patched"},
        ],
    )

    results = response.json()["results"]
    assert [result["status"] for result in results] == [201, 200, 200, 204]
    assert [result["ref"] for result in results] == ["milk", "patched", None, None]
    task = Task.objects.get()
    assert {result["body"]["id"] for result in results[:3]} == {task.id}
    assert (task.priority, task.completed, task.deleted_at is not None) == (3, True, True)


def test_naming_the_ref_of_a_failed_operation_is_a_failed_dependency(alice: APIClient) -> None:
    response = run(
        alice,
        [
            {"op": "create", "ref": "bad", "data": {"title": ""}},
            {"op": "complete", "id": "$ref:bad"},
            {"op": "create", "data": {"title": "Still done"}},
        ],
    )

    results = response.json()["results"]
    assert [result["status"] for result in results] == [400, 424, 201]
    assert results[1]["body"]["errors"][0]["code"] == "failed_dependency"
    assert list(Task.objects.values_list("title", flat=True)) == ["Still done"]


# Atomic or not.


def test_a_batch_that_is_not_atomic_keeps_what_succeeded(alice: APIClient, task: Task) -> None:
    response = run(
        alice,
        [
            {"op": "create", "data": {"title": "New"}},
            {"op": "partial_update", "id": 987654321, "data": {"title": "Nobody's"}},
            {"op": "partial_update", "id": task.id, "data": {"title": "After"}},
        ],
    )

    assert response.status_code == 200
    assert [result["status"] for result in response.json()["results"]] == [201, 404, 200]
    assert sorted(Task.objects.values_list("title", flat=True)) == ["After", "New"]


def test_an_atomic_batch_that_fails_changes_nothing_and_names_the_operation(alice: APIClient, task: Task) -> None:
    before = snapshot()

    response = run(
        alice,
        [
            {"op": "create", "ref": "new", "data": {"title": "New"}},
            {"op": "partial_update", "id": task.id, "data": {"title": "After"}},
            {"op": "complete", "id": "$ref:new"},
            {"op": "delete", "id": 987654321},
            {"op": "create", "data": {"title": "Never run"}},
        ],
        atomic=True,
    )

    assert response.status_code == 404
    assert response.json()["errors"] == [{"code": "not_found", "detail": "Not found.", "attr": "operations.3"}]
    assert snapshot() == before


def test_an_atomic_batchs_invalid_operation_names_its_field(alice: APIClient, task: Task) -> None:
    before = snapshot()

    response = run(
        alice,
        [{"op": "delete", "id": task.id}, {"op": "create", "data": {"title": "x", "priority": "urgent"}}],
        atomic=True,
    )

    assert response.status_code == 400
    assert [error["attr"] for error in response.json()["errors"]] == ["operations.1.data.priority"]
    assert snapshot() == before


def test_an_atomic_batch_that_succeeds_answers_every_result(alice: APIClient, task: Task) -> None:
    response = run(
        alice,
        [{"op": "create", "ref": "a", "data": {"title": "A"}}, {"op": "delete", "id": task.id}],
        atomic=True,
    )

    assert response.status_code == 200
    assert [result["status"] for result in response.json()["results"]] == [201, 204]
    assert list(Task.objects.live().values_list("title", flat=True)) == ["A"]


# Ownership: the viewset's own queryset, per operation.


def test_alices_batch_cannot_touch_bobs_tasks(alice: APIClient, make_task: Callable[..., Task]) -> None:
    bobs = make_task(user_id=BOB, title="Bob's", description="secret")
    bobs_deleted = make_task(user_id=BOB, title="Bob's deleted")
    client_for(BOB).delete(f"/api/{BOB}/tasks/{bobs_deleted.id}/")
    before = snapshot()

    response = run(
        alice,
        [
            {"op": "update", "id": bobs.id, "data": {"title": "pwned"}},
            {"op": "partial_update", "id": bobs.id, "data": {"title": "pwned"}},
            {"op": "complete", "id": bobs.id},
            {"op": "delete", "id": bobs.id},
            {"op": "restore", "id": bobs_deleted.id},
        ],
    )

    results = response.json()["results"]
    assert [result["status"] for result in results] == [404] * 5
    assert all(result["body"]["errors"][0]["code"] == "not_found" for result in results)
    assert "secret" not in response.content.decode()
    assert snapshot() == before


def test_a_deleted_task_can_only_be_restored(alice: APIClient, make_task: Callable[..., Task]) -> None:
    deleted = make_task(title="Gone")
    alice.delete(f"{BASE}{deleted.id}/")

    response = run(
        alice,
        [
            {"op": "partial_update", "id": deleted.id, "data": {"title": "Back?"}},
            {"op": "complete", "id": deleted.id},
            {"op": "delete", "id": deleted.id},
        ],
    )

    assert [result["status"] for result in response.json()["results"]] == [404, 404, 404]


@pytest.mark.parametrize("op", ["update", "partial_update", "complete", "delete", "restore"])
def test_an_id_past_the_columns_range_is_a_404_as_in_a_url(alice: APIClient, op: str) -> None:
    operation = {"op": op, "id": 2**70, **({"data": {"title": "x"}} if op in ("update", "partial_update") else {})}

    [result] = run(alice, [operation]).json()["results"]

    assert (result["status"], result["body"]["errors"][0]["code"]) == (404, "not_found")


def test_a_live_task_cannot_be_restored(alice: APIClient, task: Task) -> None:
    assert run(alice, [{"op": "restore", "id": task.id}]).json()["results"][0]["status"] == 404


def test_bob_cannot_post_a_batch_to_alices_route(bob: APIClient, anonymous: APIClient) -> None:
    operations = [{"op": "create", "data": {"title": "x"}}]

    assert run(bob, operations).status_code == 403
    assert run(anonymous, operations).status_code == 401
    assert not Task.objects.exists()


# A malformed batch: a 400 naming what is wrong, and nothing runs.

CREATE = {"op": "create", "data": {"title": "Never created"}}


@pytest.mark.parametrize(
    ("body", "attr", "code"),
    [
        ([CREATE], "non_field_errors", "invalid"),
        ({"operations": CREATE}, "operations.non_field_errors", "not_a_list"),
        ({}, "operations", "required"),
        ({"operations": [CREATE], "atomic": "yes"}, "atomic", "invalid"),
        ({"operations": [CREATE], "atomc": True}, "atomc", "unknown_field"),
        ({"operations": [CREATE, "create"]}, "operations.1.non_field_errors", "invalid"),
        ({"operations": [CREATE, {"op": "destroy", "id": 1}]}, "operations.1.op", "invalid_choice"),
        ({"operations": [CREATE, {"op": "delete"}]}, "operations.1.id", "required"),
        ({"operations": [CREATE, {"op": "create", "id": 1, "data": {}}]}, "operations.1.id", "not_allowed"),
        ({"operations": [CREATE, {"op": "delete", "id": 1, "data": {}}]}, "operations.1.data", "not_allowed"),
        ({"operations": [CREATE, {"op": "create", "if_match": "*"}]}, "operations.1.if_match", "not_allowed"),
        (
            {"operations": [CREATE, {"op": "delete", "id": 1, "if-match": "*"}]},
            "operations.1.if-match",
            "unknown_field",
        ),
        ({"operations": [CREATE, {"op": "delete", "id": "1"}]}, "operations.1.id", "invalid"),
        ({"operations": [CREATE, {"op": "delete", "id": True}]}, "operations.1.id", "invalid"),
        ({"operations": [CREATE, {"op": "delete", "id": 0}]}, "operations.1.id", "invalid"),
        ({"operations": [CREATE, {"op": "create", "data": []}]}, "operations.1.data", "invalid"),
        ({"operations": [CREATE, {"op": "delete", "id": 1, "if_match": "17-3"}]}, "operations.1.if_match", None),
        ({"operations": [CREATE, {"op": "delete", "id": "$ref:nowhere"}]}, "operations.1.id", "unknown_ref"),
        (
            {"operations": [{"op": "delete", "id": "$ref:later"}, {**CREATE, "ref": "later"}]},
            "operations.0.id",
            "unknown_ref",
        ),
        ({"operations": [{**CREATE, "ref": "a"}, {**CREATE, "ref": "a"}]}, "operations.1.ref", "duplicate_ref"),
        ({"operations": [{**CREATE, "ref": "a" * 65}]}, "operations.0.ref", "invalid"),
        ({"operations": [{**CREATE, "ref": "a b"}]}, "operations.0.ref", "invalid"),
        ({"operations": [{**CREATE, "ref": 7}]}, "operations.0.ref", "invalid"),
    ],
)
def test_a_malformed_batch_is_a_400_naming_the_field_and_runs_nothing(
    alice: APIClient, task: Task, body: Any, attr: str, code: str | None
) -> None:
    before = snapshot()

    response = alice.post(BATCH, body, format="json")

    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert error["attr"] == attr
    assert code is None or error["code"] == code
    assert snapshot() == before


def test_an_empty_batch_does_nothing(alice: APIClient) -> None:
    response = run(alice, [])

    assert (response.status_code, response.json()) == (200, {"results": []})


# Limits.


def test_a_batch_over_the_operation_limit_is_a_400(alice: APIClient, settings: Any) -> None:
    settings.API_MAX_BATCH_OPERATIONS = 3

    assert run(alice, [CREATE] * 3).status_code == 200
    response = run(alice, [CREATE] * 4)

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["attr"], error["code"]) == ("operations.non_field_errors", "max_length")
    assert Task.objects.count() == 3


def test_the_default_operation_limit_is_100(alice: APIClient) -> None:
    assert run(alice, [CREATE] * 100).status_code == 200
    assert run(alice, [CREATE] * 101).status_code == 400
    assert Task.objects.count() == 100


def test_a_batch_may_be_larger_than_a_single_requests_body(alice: APIClient) -> None:
    data = {"title": "é" * 200, "description": "ü" * 1000}
    body = json.dumps({"operations": [{"op": "create", "data": data}] * 100}, ensure_ascii=False).encode()
    assert django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE < len(body) < django_settings.API_MAX_BATCH_BODY

    response = alice.generic("POST", BATCH, body, content_type="application/json")

    assert response.status_code == 200
    assert Task.objects.count() == 100


def test_a_batch_past_its_body_bound_is_a_413(alice: APIClient, settings: Any) -> None:
    settings.API_MAX_BATCH_BODY = 1000
    body = json.dumps({"operations": [{"op": "create", "data": {"title": "x" * 200}}] * 5}).encode()

    response = alice.generic("POST", BATCH, body, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "request_too_large"
    assert not Task.objects.exists()


def test_a_deeply_nested_batch_is_a_400(alice: APIClient) -> None:
    body = b'{"operations": [{"op": "create", "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]}"

    response = alice.generic("POST", BATCH, body, content_type="application/json")

    assert (response.status_code, response.json()["errors"][0]["code"]) == (400, "parse_error")


def test_the_edge_lets_a_batch_as_large_as_the_app_takes() -> None:
    conf = (Path(django_settings.BASE_DIR) / "deploy" / "nginx.conf").read_text()
    location = conf[conf.index("location ~ ^/api/[^/]+/tasks/batch/?$") :]
    size = re.search(r"client_max_body_size (\d+)m;", location)

    assert size is not None and int(size.group(1)) * 1024 * 1024 == django_settings.API_MAX_BATCH_BODY


# The rate limit: each operation is a request.


@pytest.fixture
def five_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "5/minute", "anon": "5/minute"})


@pytest.fixture(params=["local", "redis"])
def counted(request: pytest.FixtureRequest, settings: Any, five_a_minute: None) -> APIClient:
    """A fresh user's client, its requests counted in local memory or in Redis (common/throttling.py)."""
    if request.param == "redis":
        settings.REDIS_URL = "redis://127.0.0.1:6379/0"
        settings.CACHES = {"default": {"BACKEND": "common.cache.FailFastRedisCache", "LOCATION": settings.REDIS_URL}}
    return client_for(f"counted-{uuid.uuid4().hex}")


def test_each_operation_counts_against_the_rate(counted: APIClient, db: None) -> None:
    user = _user_of(counted)
    url = f"/api/{user}/tasks/batch/"

    assert run(counted, [CREATE] * 3, url).status_code == 200  # 3 of 5
    refused = run(counted, [CREATE] * 3, url)  # counted as one request, refused: 4 of 5
    assert refused.status_code == 429
    assert "Retry-After" in refused
    assert Task.objects.filter(user_id=user).count() == 3
    assert run(counted, [CREATE], url).status_code == 200  # 5 of 5
    assert counted.get(f"/api/{user}/tasks/").status_code == 429
    assert Task.objects.filter(user_id=user).count() == 4


def _user_of(client: APIClient) -> str:
    import jwt

    token = client._credentials["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    return jwt.decode(token, options={"verify_signature": False})["sub"]


# Cost.


def test_each_operation_costs_what_its_single_request_costs(alice: APIClient, make_task: Callable[..., Task]) -> None:
    tasks = [make_task(title=f"task {n}") for n in range(11)]
    with CaptureQueriesContext(connection) as single:
        alice.patch(f"{BASE}{tasks[0].id}/", {"title": "one"}, format="json")
    twin = [query["sql"] for query in single.captured_queries if not query["sql"].startswith(TRANSACTION)]

    operations = [{"op": "partial_update", "id": task.id, "data": {"title": "many"}} for task in tasks[1:]]
    with CaptureQueriesContext(connection) as batch:
        assert run(alice, operations).status_code == 200
    work = [query["sql"] for query in batch.captured_queries if not query["sql"].startswith(TRANSACTION)]

    assert len(twin) == 1, twin  # the task's UPDATE … RETURNING
    assert len(work) == len(twin) * len(operations), work
