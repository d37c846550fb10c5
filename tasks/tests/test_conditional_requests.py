"""Never lose an edit: ETags on every task response, If-Match on writes, If-None-Match on reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from conftest import ALICE, BOB
from tasks.conditional import etag_for
from tasks.models import Task

BASE = f"/api/{ALICE}/tasks/"


@pytest.fixture
def task(make_task: Callable[..., Task]) -> Task:
    return make_task(title="Original", tags=["work"])


def etag_of(client: APIClient, task: Task) -> str:
    return client.get(f"{BASE}{task.id}/")["ETag"]


def test_a_task_has_a_strong_etag_that_changes_only_when_the_task_changes(alice: APIClient, task: Task) -> None:
    first = etag_of(alice, task)

    assert first.startswith('"') and first.endswith('"')
    assert etag_of(alice, task) == first
    alice.patch(f"{BASE}{task.id}/", {"description": "changed"})
    assert etag_of(alice, task) != first


def test_every_response_with_one_task_carries_its_current_etag(alice: APIClient, task: Task) -> None:
    writes = [
        lambda: alice.post(BASE, {"title": "New"}),
        lambda: alice.put(f"{BASE}{task.id}/", {"title": "Replaced"}),
        lambda: alice.patch(f"{BASE}{task.id}/", {"title": "Patched"}),
        lambda: alice.patch(f"{BASE}{task.id}/complete/"),
    ]

    for write in writes:
        response = write()
        assert response.status_code in (200, 201)
        assert response["ETag"] == alice.get(f"{BASE}{response.json()['id']}/")["ETag"]


def test_every_answer_holding_a_task_shows_the_version_its_etag_carries(alice: APIClient, task: Task) -> None:
    url = f"{BASE}{task.id}/"
    answers = [
        alice.post(BASE, {"title": "New"}),
        alice.get(url),
        alice.put(url, {"title": "Replaced"}),
        alice.patch(url, {"title": "Patched"}),
        alice.patch(f"{url}complete/"),
    ]
    alice.delete(url)
    answers.append(alice.post(f"{url}restore/"))

    # Each write's answer shows the version it made, not the one the task had before.
    assert [answer.json()["version"] for answer in answers] == [1, 1, 2, 3, 4, 6]
    for answer in answers:
        assert answer["ETag"] == f'"{answer.json()["id"]}-{answer.json()["version"]}"'


def test_a_list_shows_each_tasks_current_version(alice: APIClient, task: Task) -> None:
    alice.patch(f"{BASE}{task.id}/", {"title": "Patched"})

    (listed,) = alice.get(BASE).json()["results"]

    assert f'"{listed["id"]}-{listed["version"]}"' == etag_of(alice, task) == f'"{task.id}-2"'


WRITES = [
    ("put", "", {"title": "Theirs"}),
    ("patch", "", {"title": "Theirs"}),
    ("delete", "", None),
    ("patch", "complete/", None),
    ("patch", "complete/", {"completed": True}),
]


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
def test_a_write_with_a_stale_if_match_is_a_412_and_changes_nothing(
    alice: APIClient, task: Task, method: str, suffix: str, body: Any
) -> None:
    stale = etag_of(alice, task)
    alice.patch(f"{BASE}{task.id}/", {"description": "someone else's edit"})
    before = Task.objects.get(pk=task.pk)

    response = getattr(alice, method)(f"{BASE}{task.id}/{suffix}", body, HTTP_IF_MATCH=stale)

    assert response.status_code == 412
    assert response.json()["errors"][0]["code"] == "precondition_failed"
    after = Task.objects.get(pk=task.pk)
    assert (after.title, after.completed, after.deleted_at, after.updated_at) == (
        before.title,
        before.completed,
        before.deleted_at,
        before.updated_at,
    )


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
def test_a_write_with_the_current_etag_or_a_star_goes_through(
    alice: APIClient, make_task: Callable[..., Task], method: str, suffix: str, body: Any
) -> None:
    for if_match in ("current", "*"):
        task = make_task()
        header = etag_of(alice, task) if if_match == "current" else "*"

        response = getattr(alice, method)(f"{BASE}{task.id}/{suffix}", body, HTTP_IF_MATCH=header)

        assert response.status_code in (200, 204), (if_match, response.content)


@pytest.mark.parametrize("header", ["17-3", '"17-3', "garbage", '"a", , "b"', "W/17"])
@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
def test_a_malformed_if_match_is_a_400_saying_so_that_changes_nothing(
    alice: APIClient, task: Task, method: str, suffix: str, body: Any, header: str
) -> None:
    before = Task.objects.get(pk=task.pk).version

    response = getattr(alice, method)(f"{BASE}{task.id}/{suffix}", body, HTTP_IF_MATCH=header)

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["attr"], error["code"]) == ("If-Match", "invalid_if_match")
    assert Task.objects.get(pk=task.pk).version == before


def test_a_read_ignores_if_match(alice: APIClient, task: Task) -> None:
    assert alice.get(f"{BASE}{task.id}/", HTTP_IF_MATCH="garbage").status_code == 200


def test_if_match_takes_a_list_and_compares_strongly(alice: APIClient, task: Task) -> None:
    current = etag_of(alice, task)

    assert alice.patch(f"{BASE}{task.id}/", {"title": "a"}, HTTP_IF_MATCH=f'"nope", {current}').status_code == 200
    current = etag_of(alice, task)
    assert alice.patch(f"{BASE}{task.id}/", {"title": "b"}, HTTP_IF_MATCH=f"W/{current}").status_code == 412


def test_without_if_match_the_last_write_wins(alice: APIClient, task: Task) -> None:
    alice.patch(f"{BASE}{task.id}/", {"title": "first"})

    assert alice.patch(f"{BASE}{task.id}/", {"title": "second"}).json()["title"] == "second"


def test_another_users_task_is_a_404_whatever_the_if_match(bob: APIClient, task: Task) -> None:
    assert bob.patch(f"/api/{BOB}/tasks/{task.id}/", {"title": "x"}, HTTP_IF_MATCH="*").status_code == 404


def test_a_read_with_a_matching_if_none_match_is_a_304(alice: APIClient, task: Task) -> None:
    current = etag_of(alice, task)

    for header in (current, f"W/{current}", f'"other", {current}', "*"):
        response = alice.get(f"{BASE}{task.id}/", HTTP_IF_NONE_MATCH=header)
        assert response.status_code == 304, header
        assert response.content == b""
        assert response["ETag"] == current


def test_a_read_with_a_stale_if_none_match_gets_the_task(alice: APIClient, task: Task) -> None:
    stale = etag_of(alice, task)
    alice.patch(f"{BASE}{task.id}/", {"title": "Changed"})

    response = alice.get(f"{BASE}{task.id}/", HTTP_IF_NONE_MATCH=stale)

    assert response.status_code == 200
    assert response.json()["title"] == "Changed"


API_WRITES = [
    ("put", "", {"title": "Replaced"}),
    ("patch", "", {"title": "Patched"}),
    ("patch", "", {}),
    ("patch", "complete/", None),
    ("patch", "complete/", {"completed": True}),
    ("delete", "", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), API_WRITES)
def test_every_write_through_the_api_makes_a_new_version_and_etag(
    alice: APIClient, task: Task, method: str, suffix: str, body: Any
) -> None:
    before = etag_of(alice, task)

    response = getattr(alice, method)(f"{BASE}{task.id}/{suffix}", body)

    assert response.status_code in (200, 204)
    assert Task.objects.get(pk=task.pk).version == 2
    if method != "delete":
        assert response["ETag"] == etag_for(Task.objects.get(pk=task.pk)) != before


def test_a_created_task_is_version_1(alice: APIClient) -> None:
    response = alice.post(BASE, {"title": "New"})

    assert Task.objects.get(pk=response.json()["id"]).version == 1
    assert response["ETag"] == f'"{response.json()["id"]}-1"'


def test_an_etag_is_equal_exactly_when_the_version_is(alice: APIClient, task: Task) -> None:
    first = etag_of(alice, task)
    assert etag_of(alice, task) == first  # no write: same version, same ETag

    # Two flips put ``completed`` back, but they are two writes: a new version, so a new ETag.
    alice.patch(f"{BASE}{task.id}/complete/")
    alice.patch(f"{BASE}{task.id}/complete/")
    assert etag_of(alice, task) != first
    assert etag_of(alice, task) == etag_for(Task.objects.get(pk=task.pk))


def test_a_stale_if_match_is_a_412_before_the_body_is_even_read(alice: APIClient, task: Task) -> None:
    stale = etag_of(alice, task)
    alice.patch(f"{BASE}{task.id}/", {"description": "someone else's edit"})

    response = alice.patch(f"{BASE}{task.id}/", {"title": 17}, HTTP_IF_MATCH=stale)

    assert response.status_code == 412
