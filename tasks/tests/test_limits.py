"""Every size a list request controls has a limit: past it, a 400 naming the parameter and the limit, before
anything is read or written. The live version, on 50,000 tasks, is todo_project/tests/test_costs.py."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from conftest import ALICE
from tasks.models import Task

BASE = f"/api/{ALICE}/tasks/"
TEN_TAGS = "&".join(f"tag=t{number}" for number in range(10))


def query(**parameters: str | list[str]) -> str:
    return urllib.parse.urlencode(parameters, doseq=True)


@pytest.mark.parametrize(
    "parameters",
    [
        query(search=" ".join(f"w{number}" for number in range(10))),
        query(search="s" * 200),
        TEN_TAGS,
        query(search="x", padding="p" * (2048 - len("search=x&padding="))),
    ],
    ids=["ten search words", "200 search characters", "ten tags", "a 2048-byte query string"],
)
def test_it_takes_each_parameter_up_to_its_limit(alice: APIClient, parameters: str) -> None:
    assert alice.get(f"{BASE}?{parameters}").status_code == 200


OVER_LIMITS = [
    (query(search=" ".join(f"w{number}" for number in range(11))), "search", "too_many_words", "10 words"),
    (query(search=",".join(f"w{number}" for number in range(11))), "search", "too_many_words", "10 words"),
    (query(search="s" * 201), "search", "search_too_long", "200 characters"),
    (f"{TEN_TAGS}&tag=one-more", "tag", "too_many_tags", "10 tags"),
    (query(search="x", padding="p" * (2049 - len("search=x&padding="))), None, "query_string_too_long", "2048 bytes"),
]


@pytest.mark.parametrize(("parameters", "attr", "code", "limit"), OVER_LIMITS)
def test_it_refuses_a_list_past_a_limit_naming_the_parameter_and_the_limit(
    alice: APIClient, make_task: Callable[..., Task], parameters: str, attr: str | None, code: str, limit: str
) -> None:
    make_task()

    with CaptureQueriesContext(connection) as queries:
        response = alice.get(f"{BASE}?{parameters}")

    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    [error] = response.json()["errors"]
    assert (error["attr"], error["code"]) == (attr, code)
    assert limit in error["detail"]
    assert queries.captured_queries == []


@pytest.mark.parametrize(
    "path", ["/api/schema/", "/api/docs/", f"{BASE}1/", "/api/no-such-route/"], ids=["schema", "docs", "task", "404"]
)
def test_it_refuses_an_oversized_query_string_on_every_api_route(alice: APIClient, path: str) -> None:
    response = alice.get(f"{path}?x={'x' * 2048}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "query_string_too_long"


def test_it_writes_nothing_when_a_write_carries_an_oversized_query_string(alice: APIClient) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = alice.post(f"{BASE}?x={'x' * 2048}", {"title": "never written"})

    assert response.status_code == 400
    assert queries.captured_queries == []
    assert not Task.objects.exists()


# With the query-string bound lifted, each parameter's own check still refuses a thousand times its size.
@pytest.mark.parametrize(
    ("parameters", "attr"),
    [
        (query(search="s" * 200_000), "search"),
        (query(search=" ".join(["w"] * 10_000)), "search"),
        ("&".join(["tag=t"] * 10_000), "tag"),
        (query(padding="p" * 2_048_000), None),
    ],
    ids=["search 1000x long", "search 1000x words", "tags 1000x", "query string 1000x"],
)
def test_it_refuses_a_parameter_a_thousand_times_too_large_as_a_400(
    alice: APIClient, settings: Settings, parameters: str, attr: str | None
) -> None:
    if attr is not None:
        settings.API_MAX_QUERY_STRING = 10**8
        settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = None

    response = alice.get(f"{BASE}?{parameters}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == attr


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the bounds are PostgreSQL settings")
def test_its_database_connections_have_a_statement_timeout_and_no_jit(db: None) -> None:
    with connection.cursor() as cursor:
        settings = {}
        for name in ("statement_timeout", "idle_in_transaction_session_timeout", "jit"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]

    assert settings == {"statement_timeout": "5s", "idle_in_transaction_session_timeout": "10s", "jit": "off"}
