"""Users group tasks with tags: short, trimmed, case-insensitively unique labels, filterable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from conftest import ALICE, BOB
from tasks.models import Task

BASE = f"/api/{ALICE}/tasks/"


def titles(response: Any) -> set[str]:
    assert response.status_code == 200, response.content
    return {task["title"] for task in response.json()["results"]}


def test_tags_are_set_on_create_trimmed_and_kept_in_order(alice: APIClient) -> None:
    response = alice.post(BASE, {"title": "Report", "tags": ["  Work ", "Q4", "écriture"]})

    assert response.status_code == 201
    assert response.json()["tags"] == ["Work", "Q4", "écriture"]
    assert alice.get(response["Location"]).json()["tags"] == ["Work", "Q4", "écriture"]


def test_tags_are_replaced_by_put_and_patch_and_cleared_by_put_without_them(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    task = make_task(tags=["old"])

    assert alice.patch(f"{BASE}{task.id}/", {"tags": ["new", "newer"]}).json()["tags"] == ["new", "newer"]
    assert alice.patch(f"{BASE}{task.id}/", {"title": "kept tags"}).json()["tags"] == ["new", "newer"]
    assert alice.put(f"{BASE}{task.id}/", {"title": "no tags"}).json()["tags"] == []


@pytest.mark.parametrize(
    "tags",
    [
        "work",
        {"work": True},
        None,
        [None],
        [42],
        [""],
        ["   "],
        ["x" * 51],
        [f"t{number}" for number in range(21)],
        ["tab\there"],
        ["trailing newline\n"],
        ["\u3000\u00a0"],
        ["nul\x00"],
        [["nested"]],
    ],
)
def test_invalid_tags_are_a_400_naming_tags_and_change_nothing(
    alice: APIClient, make_task: Callable[..., Task], tags: Any
) -> None:
    task = make_task(tags=["keep"])

    created = alice.post(BASE, {"title": "x", "tags": tags})
    updated = alice.patch(f"{BASE}{task.id}/", {"tags": tags})

    for response in (created, updated):
        assert response.status_code == 400
        assert {error["attr"].split(".")[0] for error in response.json()["errors"]} == {"tags"}
    assert Task.objects.count() == 1
    task.refresh_from_db()
    assert task.tags == ["keep"]


def test_tags_differing_only_in_letter_case_are_one_tag_spelled_as_first_given(alice: APIClient) -> None:
    response = alice.post(BASE, {"title": "x", "tags": ["Work", "home", "WORK", " work ", "Straße", "STRASSE"]})

    assert response.status_code == 201
    assert response.json()["tags"] == ["Work", "home", "Straße"]


def test_twenty_tags_of_fifty_characters_are_fine(alice: APIClient) -> None:
    tags = [f"{number:02d}" + "x" * 48 for number in range(20)]

    assert alice.post(BASE, {"title": "Many", "tags": tags}).json()["tags"] == tags


@pytest.fixture
def tagged(make_task: Callable[..., Task]) -> None:
    make_task(title="Report", tags=["Work", "urgent"])
    make_task(title="Slides", tags=["work"])
    make_task(title="Groceries", tags=["home", "URGENT"])
    make_task(title="Untagged")
    make_task(title="Worker", tags=["workers"])
    make_task(user_id=BOB, title="Bob's work", tags=["work", "urgent"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tag=work", {"Report", "Slides"}),
        ("tag=WORK", {"Report", "Slides"}),
        ("tag=urgent", {"Report", "Groceries"}),
        ("tag=work&tag=urgent", {"Report"}),
        ("tag=work&tag=home", set()),
        ("tag=wor", set()),
        ("tag=%25", set()),
        ("tag=work&completed=false&search=report", {"Report"}),
    ],
)
def test_the_tag_filter_matches_whole_tags_in_any_case_and_all_of_them(
    alice: APIClient, tagged: None, query: str, expected: set[str]
) -> None:
    assert titles(alice.get(f"{BASE}?{query}")) == expected


@pytest.mark.parametrize("query", ["tag=", "tag=%00", "tag=" + "x" * 51])
def test_a_tag_filter_that_cannot_match_anything_valid_is_a_400(alice: APIClient, query: str) -> None:
    response = alice.get(f"{BASE}?{query}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "tag"


def test_a_tag_with_an_unpaired_surrogate_is_a_400(alice: APIClient) -> None:
    body = b'{"title": "x", "tags": ["lone \\ud800"]}'

    response = alice.generic("POST", BASE, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "tags"
    assert not Task.objects.exists()
