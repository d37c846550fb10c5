"""Filtering, searching, ordering and paging a user's task list."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from conftest import ALICE
from tasks.models import Priority, Task

BASE = f"/api/{ALICE}/tasks/"
DAY = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def titles(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [task["title"] for task in response.json()["results"]]


@pytest.fixture
def chores(make_task: Callable[..., Task]) -> None:
    make_task(title="Buy milk", priority=Priority.LOW, completed=True, due_date=DAY)
    make_task(
        title="File taxes", description="before the DEADLINE", priority=Priority.HIGH, due_date=DAY + timedelta(days=2)
    )
    make_task(title="Call mum", priority=Priority.MEDIUM)
    make_task(title="Wash car", priority=Priority.HIGH, completed=True, due_date=DAY - timedelta(days=2))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("completed=true", {"Buy milk", "Wash car"}),
        ("completed=false", {"File taxes", "Call mum"}),
        ("priority=high", {"File taxes", "Wash car"}),
        ("priority=low", {"Buy milk"}),
        ("priority=high&completed=false", {"File taxes"}),
        ("search=MILK", {"Buy milk"}),
        ("search=deadline", {"File taxes"}),
        ("search=nothing-like-this", set()),
        ("due_before=2026-12-01T12:00:00Z", {"Wash car"}),
        ("due_after=2026-12-01T12:00:00Z", {"File taxes"}),
        ("due_after=2026-11-30T00:00:00Z&due_before=2026-12-02T00:00:00%2B00:00", {"Buy milk"}),
    ],
)
def test_filters_narrow_the_list(alice: APIClient, chores: None, query: str, expected: set[str]) -> None:
    response = alice.get(f"{BASE}?{query}")

    assert set(titles(response)) == expected
    assert response.json()["count"] == len(expected)


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("title", ["Buy milk", "Call mum", "File taxes", "Wash car"]),
        ("-title", ["Wash car", "File taxes", "Call mum", "Buy milk"]),
        ("due_date", ["Wash car", "Buy milk", "File taxes", "Call mum"]),
        ("-due_date", ["File taxes", "Buy milk", "Wash car", "Call mum"]),
        ("-priority,title", ["File taxes", "Wash car", "Call mum", "Buy milk"]),
        ("priority,title", ["Buy milk", "Call mum", "File taxes", "Wash car"]),
        ("completed,title", ["Call mum", "File taxes", "Buy milk", "Wash car"]),
        ("created_at", ["Buy milk", "File taxes", "Call mum", "Wash car"]),
        ("-created_at", ["Wash car", "Call mum", "File taxes", "Buy milk"]),
    ],
)
def test_ordering_sorts_by_the_given_fields(alice: APIClient, chores: None, ordering: str, expected: list[str]) -> None:
    assert titles(alice.get(f"{BASE}?ordering={ordering}")) == expected


def test_priority_sorts_by_importance_not_alphabetically(alice: APIClient, chores: None) -> None:
    priorities = [task["priority"] for task in alice.get(f"{BASE}?ordering=-priority").json()["results"]]

    assert priorities == ["high", "high", "medium", "low"]


def test_ordering_by_updated_at_follows_the_last_change(alice: APIClient, make_task: Callable[..., Task]) -> None:
    first = make_task(title="first")
    make_task(title="second")
    alice.patch(f"{BASE}{first.id}/", {"description": "touched"})

    assert titles(alice.get(f"{BASE}?ordering=-updated_at")) == ["first", "second"]
    assert titles(alice.get(f"{BASE}?ordering=updated_at")) == ["second", "first"]


def test_equal_sort_keys_break_ties_by_newest_id_so_pages_never_overlap(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    same = [make_task(title="same", created_at=DAY) for _ in range(7)]
    Task.objects.update(created_at=DAY)

    seen = []
    for offset in range(0, 7, 3):
        seen += [task["id"] for task in alice.get(f"{BASE}?ordering=title&limit=3&offset={offset}").json()["results"]]

    assert seen == sorted((task.id for task in same), reverse=True)
    assert [task["id"] for task in alice.get(BASE).json()["results"]] == seen


def test_search_treats_like_wildcards_and_quotes_as_plain_text(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    make_task(title="100% done")
    make_task(title="snake_case")
    make_task(title="plain")

    assert titles(alice.get(f"{BASE}?search=%25")) == ["100% done"]
    assert titles(alice.get(f"{BASE}?search=_")) == ["snake_case"]
    assert titles(alice.get(f"{BASE}?search=' OR 1=1 --")) == []


def test_pages_have_links_and_a_total(alice: APIClient, make_task: Callable[..., Task]) -> None:
    for number in range(5):
        make_task(title=f"task {number}")

    body = alice.get(f"{BASE}?limit=2&offset=2").json()

    assert body["count"] == 5
    assert [task["title"] for task in body["results"]] == ["task 2", "task 1"]
    assert body["next"] == f"http://testserver{BASE}?limit=2&offset=4"
    assert body["previous"] == f"http://testserver{BASE}?limit=2"


def test_the_default_page_is_50_and_limit_is_capped_at_200(alice: APIClient) -> None:
    Task.objects.bulk_create(Task(user_id=ALICE, title=f"task {number}") for number in range(201))

    assert len(alice.get(BASE).json()["results"]) == 50
    assert len(alice.get(f"{BASE}?limit=1000").json()["results"]) == 200
    assert alice.get(f"{BASE}?offset=1000").json()["results"] == []


@pytest.mark.parametrize("digits", [20, 2000])  # 2000: within API_MAX_QUERY_STRING
def test_a_limit_or_offset_of_any_size_is_a_full_or_an_empty_page(alice: APIClient, digits: int) -> None:
    Task.objects.bulk_create(Task(user_id=ALICE, title=f"task {number}") for number in range(201))

    assert len(alice.get(f"{BASE}?limit={'9' * digits}").json()["results"]) == 200
    assert alice.get(f"{BASE}?offset={'9' * digits}").json()["results"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("limit=1.5", "limit"),
        ("limit=%2B5", "limit"),
        ("limit=", "limit"),
        ("offset=-1", "offset"),
        ("offset=%00", "offset"),
        ("completed=maybe", "completed"),
        ("priority=urgent", "priority"),
        ("due_before=yesterday", "due_before"),
        ("due_after=%00", "due_after"),
        ("ordering=password", "ordering"),
        ("ordering=deleted_at", "ordering"),
        ("deleted=yes", "deleted"),
        ("deleted=True", "deleted"),
        ("completed_after=yesterday", "completed_after"),
        ("completed_before=2026-13-01", "completed_before"),
        ("ordering=title,user_id", "ordering"),
        ("search=%00", "search"),
    ],
)
def test_nonsense_list_parameters_are_a_400_naming_the_parameter(
    alice: APIClient, make_task: Callable[..., Task], query: str, field: str
) -> None:
    make_task()

    response = alice.get(f"{BASE}?{query}")

    assert response.status_code == 400
    assert field in {error["attr"] for error in response.json()["errors"]}


@pytest.mark.parametrize(
    ("query", "valid"),
    [
        ("completed=maybe", "true, false"),
        ("priority=urgent", "low, medium, high"),
        ("ordering=password", "created_at, updated_at, title, priority, due_date, completed, completed_at"),
        ("ordering=title,-user_id", "created_at, updated_at, title, priority, due_date, completed, completed_at"),
        ("deleted=maybe", "true, false"),
    ],
)
def test_an_invalid_choice_lists_the_valid_ones(alice: APIClient, query: str, valid: str) -> None:
    detail = alice.get(f"{BASE}?{query}").json()["errors"][0]["detail"]

    assert valid in detail


@pytest.mark.parametrize(
    ("query", "bounds"),
    [
        ("limit=0", ["from 1", "at most 200"]),
        ("limit=abc", ["from 1", "at most 200"]),
        ("offset=-1", ["from 0"]),
    ],
)
def test_limit_and_offset_errors_state_the_real_bounds(alice: APIClient, query: str, bounds: list[str]) -> None:
    detail = alice.get(f"{BASE}?{query}").json()["errors"][0]["detail"]

    assert all(bound in detail for bound in bounds)
    assert "9223372036854775807" not in detail


@pytest.mark.parametrize(
    "query",
    [
        "ordering=title&ordering=-priority",
        "completed=true&completed=false",
        "priority=low&priority=high",
        "deleted=false&deleted=true",
        "completed_after=2026-01-01T00:00:00Z&completed_after=2026-02-01T00:00:00Z",
    ],
)
def test_a_parameter_given_twice_is_a_400_naming_it(
    alice: APIClient, make_task: Callable[..., Task], query: str
) -> None:
    make_task()

    response = alice.get(f"{BASE}?{query}")

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["attr"], error["code"]) == (query.split("=")[0], "repeated")


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?completed=false&ordering=-priority",
        "?search=task&ordering=due_date",
        "?deleted=false&ordering=-completed_at,title",
    ],
)
def test_listing_costs_the_same_queries_for_1_and_50_tasks(alice: APIClient, query: str) -> None:
    def queries_for(count: int) -> int:
        Task.objects.all().delete()
        Task.objects.bulk_create(Task(user_id=ALICE, title=f"task {number}") for number in range(count))
        with CaptureQueriesContext(connection) as captured:
            response = alice.get(f"{BASE}{query}")
        assert len(response.json()["results"]) == count
        return len(captured.captured_queries)

    assert queries_for(1) == queries_for(50)


@pytest.mark.parametrize(
    "query",
    [
        *("completed=", "priority=", "due_before=", "due_after=", "ordering=", "ordering=,,,", "ordering=title,"),
        *("deleted=", "completed_before=", "completed_after="),
    ],
)
def test_a_filter_given_without_a_value_is_a_400(alice: APIClient, query: str) -> None:
    response = alice.get(f"{BASE}?{query}")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"code": "blank", "detail": "Give this parameter a value, or leave it out.", "attr": query.split("=")[0]}
    ]


def test_due_bounds_with_any_utc_offset_are_compared_in_utc(alice: APIClient, make_task: Callable[..., Task]) -> None:
    make_task(title="early", due_date=DAY)
    # -18:39 is valid ISO 8601 but past what PostgreSQL accepts as an offset.
    assert titles(alice.get(f"{BASE}?due_before=2026-12-01T00:00:00-18:39")) == ["early"]
    assert titles(alice.get(f"{BASE}?due_after=2026-12-01T00:00:00%2B18:39")) == ["early"]


@pytest.mark.parametrize(
    "moment",
    [
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:03:28%2B01:00",
        "0001-06-01T00:00:00Z",
        "0002-01-01T00:00:00%2B23:59",
        "9998-12-31T23:59:59-01:00",
    ],
)
@pytest.mark.parametrize("bound", ["due_before", "due_after", "completed_before", "completed_after"])
def test_due_bounds_outside_years_0002_to_9998_are_a_400(alice: APIClient, bound: str, moment: str) -> None:
    response = alice.get(f"{BASE}?{bound}={moment}")

    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "code": "out_of_range",
        "detail": "Give a date-time with a year from 0002 to 9998, in UTC as well as written.",
        "attr": bound,
    }


@pytest.mark.parametrize(
    "moment", ["0002-01-01T00:00:00Z", "0002-01-01T00:00:00-23:59", "9990-01-01T00:00:00Z", "9998-12-31T23:59:59Z"]
)
@pytest.mark.parametrize("bound", ["due_before", "due_after", "completed_before", "completed_after"])
def test_due_bounds_at_the_ends_of_the_range_are_taken(alice: APIClient, bound: str, moment: str) -> None:
    assert alice.get(f"{BASE}?{bound}={moment}").status_code == 200
