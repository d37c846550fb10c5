"""Subtasks: parent_id and its rules, the counts, the parent's version and feed entry on every write of a subtask, and
the cascades of delete, restore and complete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import AbstractUser
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from conftest import ALICE, BOB
from tasks import services, tree
from tasks.conditional import etag_for
from tasks.models import Priority, Task

BASE = f"/api/{ALICE}/tasks/"
ROOT = Path(__file__).resolve().parents[2]


def create(client: APIClient, title: str = "Task", **fields: Any) -> dict[str, Any]:
    response = client.post(BASE, {"title": title, **fields}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def get(client: APIClient, task: dict[str, Any] | int) -> dict[str, Any]:
    task_id = task if isinstance(task, int) else task["id"]
    response = client.get(f"{BASE}{task_id}/")
    assert response.status_code == 200, response.json()
    return response.json()


def counts(client: APIClient, task: dict[str, Any]) -> tuple[int, int]:
    fresh = get(client, task)
    return fresh["subtasks_open"], fresh["subtasks_total"]


def chain(client: APIClient, levels: int) -> list[dict[str, Any]]:
    """A top-level task and a subtask under each, ``levels`` tasks in all."""
    tasks = [create(client, "level 1")]
    for level in range(2, levels + 1):
        tasks.append(create(client, f"level {level}", parent_id=tasks[-1]["id"]))
    return tasks


def error(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.content
    [only] = response.json()["errors"]
    return only


# Creating subtasks, and the representation


def test_a_subtask_names_its_parent_and_the_parent_counts_it(alice: APIClient) -> None:
    parent = create(alice, "Plan the trip")

    child = create(alice, "Book flights", parent_id=parent["id"])

    assert child["parent_id"] == parent["id"] and (child["subtasks_open"], child["subtasks_total"]) == (0, 0)
    assert counts(alice, parent) == (1, 1)
    assert alice.get(f"{BASE}{parent['id']}/").json()["parent_id"] is None


@pytest.mark.parametrize("value", ["5", True, 0, -3, 1.5, [1], {"id": 1}])
def test_a_parent_id_that_is_not_an_id_is_a_400_naming_it(alice: APIClient, value: Any) -> None:
    response = alice.post(BASE, {"title": "x", "parent_id": value}, format="json")

    assert error(response)["attr"] == "parent_id" and error(response)["code"] == "invalid"
    assert not Task.objects.exists()


def test_bobs_task_a_deleted_task_and_a_missing_id_get_the_same_400(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    bobs = make_task(BOB, title="Bob's")
    deleted = make_task(title="Deleted")
    services.task_soft_delete(tasks=Task.objects.filter(pk=deleted.pk))
    bobs_version = Task.objects.get(pk=bobs.pk).version

    answers = [
        alice.post(BASE, {"title": "x", "parent_id": parent_id}, format="json").json()
        for parent_id in (bobs.pk, deleted.pk, 987654321, 2**63 - 1, 2**63, 10**30)
    ]

    assert all(answer == answers[0] for answer in answers), answers
    assert answers[0]["errors"][0]["attr"] == "parent_id" and answers[0]["errors"][0]["code"] == "does_not_exist"
    assert Task.objects.filter(user_id=ALICE, deleted_at__isnull=True).count() == 0
    assert Task.objects.get(pk=bobs.pk).version == bobs_version  # not even touched


def test_bob_cannot_move_his_task_under_alices(bob: APIClient, make_task: Callable[..., Task]) -> None:
    alices, bobs = make_task(title="Alice's"), make_task(BOB, title="Bob's")

    response = bob.patch(f"/api/{BOB}/tasks/{bobs.pk}/", {"parent_id": alices.pk}, format="json")

    assert error(response)["code"] == "does_not_exist"
    assert Task.objects.get(pk=bobs.pk).parent_id is None


def test_moving_a_task_that_is_not_there_is_a_404(alice: APIClient, make_task: Callable[..., Task]) -> None:
    parent, bobs = make_task(title="parent"), make_task(BOB, title="Bob's")

    for task_id in (999999, bobs.pk):
        assert alice.patch(f"{BASE}{task_id}/", {"parent_id": parent.pk}, format="json").status_code == 404


def test_tasks_nest_at_most_four_levels(alice: APIClient) -> None:
    tasks = chain(alice, 4)

    response = alice.post(BASE, {"title": "level 5", "parent_id": tasks[-1]["id"]}, format="json")

    assert error(response) == {
        "code": "too_deep",
        "attr": "parent_id",
        "detail": "Subtasks nest at most 4 levels deep (a top-level task is level 1): under this parent the task and "
        "its subtasks would reach level 5. Choose a parent higher up.",
    }


def test_the_depth_is_a_setting(alice: APIClient, settings: Settings) -> None:
    settings.API_MAX_TASK_DEPTH = 2
    top, second = chain(alice, 2)

    assert error(alice.post(BASE, {"title": "x", "parent_id": second["id"]}, format="json"))["code"] == "too_deep"


def test_a_moved_task_takes_its_subtasks_and_their_levels_with_it(alice: APIClient) -> None:
    a, _, _ = chain(alice, 3)  # three levels under a
    b, b2 = chain(alice, 2)

    assert error(alice.patch(f"{BASE}{a['id']}/", {"parent_id": b2["id"]}, format="json"))["code"] == "too_deep"
    moved = alice.patch(f"{BASE}{a['id']}/", {"parent_id": b["id"]}, format="json")  # levels 2 to 4
    assert moved.status_code == 200 and moved.json()["parent_id"] == b["id"]


@pytest.mark.parametrize("under", ["itself", "its child", "its grandchild"])
def test_a_task_cannot_go_under_itself_or_its_subtasks(alice: APIClient, under: str) -> None:
    tasks = chain(alice, 3)
    target = {"itself": tasks[0], "its child": tasks[1], "its grandchild": tasks[2]}[under]

    response = alice.patch(f"{BASE}{tasks[0]['id']}/", {"parent_id": target["id"]}, format="json")

    assert error(response)["code"] == "cycle"
    assert get(alice, tasks[0])["parent_id"] is None


def test_a_tree_holds_at_most_the_set_number_of_tasks(alice: APIClient, settings: Settings) -> None:
    settings.API_MAX_TASK_TREE_SIZE = 3
    top = create(alice, "top")
    child = create(alice, "child", parent_id=top["id"])
    create(alice, "grandchild", parent_id=child["id"])
    other, other_child = chain(alice, 2)

    assert error(alice.post(BASE, {"title": "x", "parent_id": top["id"]}, format="json"))["code"] == (
        "too_many_subtasks"
    )
    assert error(alice.patch(f"{BASE}{other['id']}/", {"parent_id": top["id"]}, format="json"))["code"] == (
        "too_many_subtasks"
    )
    # Within its own tree a task moves freely: it is counted once.
    moved = alice.patch(f"{BASE}{other_child['id']}/", {"parent_id": other["id"]}, format="json")
    assert moved.status_code == 200
    inside = alice.patch(f"{BASE}{child['id']}/", {"parent_id": top["id"]}, format="json")
    assert inside.status_code == 200


def test_the_default_bounds_are_four_levels_and_a_thousand_tasks(settings: Settings) -> None:
    assert (settings.API_MAX_TASK_DEPTH, settings.API_MAX_TASK_TREE_SIZE) == (4, 1000)


def test_put_without_a_parent_moves_a_subtask_to_the_top_level(alice: APIClient) -> None:
    parent = create(alice, "parent")
    child = create(alice, "child", parent_id=parent["id"])

    replaced = alice.put(f"{BASE}{child['id']}/", {"title": "child"}, format="json").json()

    assert replaced["parent_id"] is None and counts(alice, parent) == (0, 0)


def test_a_patch_moves_a_subtask_between_parents_and_both_counts_follow(alice: APIClient) -> None:
    first, second = create(alice, "first"), create(alice, "second")
    child = create(alice, "child", parent_id=first["id"])

    moved = alice.patch(f"{BASE}{child['id']}/", {"parent_id": second["id"]}, format="json")

    assert moved.json()["parent_id"] == second["id"]
    assert counts(alice, first) == (0, 0) and counts(alice, second) == (1, 1)


# The counts


def test_counts_are_live_direct_subtasks_open_and_all(alice: APIClient) -> None:
    parent = create(alice, "parent")
    a, b, c = (create(alice, title, parent_id=parent["id"]) for title in "abc")
    create(alice, "grandchild", parent_id=a["id"])  # not a direct subtask

    alice.patch(f"{BASE}{a['id']}/complete/")
    assert counts(alice, parent) == (2, 3)
    alice.delete(f"{BASE}{b['id']}/")
    assert counts(alice, parent) == (1, 2)
    alice.patch(f"{BASE}{a['id']}/complete/")  # reopened
    assert counts(alice, parent) == (2, 2)
    alice.post(f"{BASE}{b['id']}/restore/")
    assert counts(alice, parent) == (3, 3)
    alice.patch(f"{BASE}{c['id']}/", {"completed": True}, format="json")
    assert counts(alice, parent) == (2, 3)


def test_every_answer_that_carries_a_task_carries_its_counts(alice: APIClient) -> None:
    parent = create(alice, "parent")
    create(alice, "open", parent_id=parent["id"])
    done = create(alice, "done", parent_id=parent["id"])
    alice.patch(f"{BASE}{done['id']}/complete/")
    expected = {"subtasks_open": 1, "subtasks_total": 2}

    def has(task: dict[str, Any]) -> bool:
        return {name: task[name] for name in expected} == expected

    url = f"{BASE}{parent['id']}/"
    assert has(alice.get(url).json())
    assert has(alice.patch(url, {"title": "renamed"}, format="json").json())
    assert has(alice.put(url, {"title": "replaced"}, format="json").json())
    assert has(next(task for task in alice.get(BASE).json()["results"] if task["id"] == parent["id"]))
    assert has(next(task for task in alice.get(f"{BASE}changes/").json()["changed"] if task["id"] == parent["id"]))
    batch = alice.post(f"{BASE}batch/", {"operations": [{"op": "partial_update", "id": parent["id"], "data": {}}]})
    assert has(batch.json()["results"][0]["body"])
    completed = alice.patch(f"{url}complete/").json()  # completes the open one too
    assert (completed["subtasks_open"], completed["subtasks_total"]) == (0, 2)
    reopened = alice.patch(f"{url}complete/").json()
    assert (reopened["subtasks_open"], reopened["subtasks_total"]) == (0, 2)
    alice.delete(url)
    restored = alice.post(f"{url}restore/").json()
    assert (restored["subtasks_open"], restored["subtasks_total"]) == (0, 2)


def test_a_list_costs_the_same_queries_with_subtasks(alice: APIClient) -> None:
    parents = [create(alice, f"parent {n}") for n in range(5)]
    for parent in parents:
        for n in range(3):
            create(alice, f"child {n}", parent_id=parent["id"])

    with CaptureQueriesContext(connection) as done:
        page = alice.get(BASE, {"limit": 200}).json()["results"]

    assert len(page) == 20 and len(done.captured_queries) == 3
    assert sorted(task["subtasks_total"] for task in page) == [0] * 15 + [3] * 5


# The parent's version, ETag and feed entry, on every write of a subtask


def feed_ids(client: APIClient, cursor: str) -> set[int]:
    response = client.get(f"{BASE}changes/", {"since": cursor})
    if response.status_code == 410:  # a purge: the client starts over, and gets every live task afresh
        response = client.get(f"{BASE}changes/")
    answer = response.json()
    return {task["id"] for task in answer["changed"]} | {tombstone["id"] for tombstone in answer["deleted"]}


CHILD_WRITES: dict[str, Callable[[APIClient, dict[str, Any], dict[str, Any]], Any]] = {
    "create": lambda client, parent, child: create(client, "another", parent_id=parent["id"]),
    "complete": lambda client, parent, child: client.patch(f"{BASE}{child['id']}/complete/"),
    "delete": lambda client, parent, child: client.delete(f"{BASE}{child['id']}/"),
    "move out": lambda client, parent, child: client.patch(f"{BASE}{child['id']}/", {"parent_id": None}, format="json"),
    "move in": lambda client, parent, child: client.patch(
        f"{BASE}{create(client, 'elsewhere')['id']}/", {"parent_id": parent["id"]}, format="json"
    ),
    "batch create": lambda client, parent, child: client.post(
        f"{BASE}batch/", {"operations": [{"op": "create", "data": {"title": "b", "parent_id": parent["id"]}}]}
    ),
    "purge by support": lambda client, parent, child: services.tasks_purge(tasks=Task.objects.filter(pk=child["id"])),
    "raw bulk update": lambda client, parent, child: Task.objects.filter(pk=child["id"]).update(completed=True),
    "raw sql": lambda client, parent, child: connection.cursor().execute(
        "UPDATE tasks_task SET deleted_at = %s WHERE id = %s", [timezone.now(), child["id"]]
    ),
}


@pytest.mark.parametrize("write", CHILD_WRITES)
def test_a_subtasks_write_gives_its_parent_a_new_etag_and_a_feed_entry(alice: APIClient, write: str) -> None:
    parent = create(alice, "parent")
    child = create(alice, "child", parent_id=parent["id"])
    etag = alice.get(f"{BASE}{parent['id']}/")["ETag"]
    cursor = alice.get(f"{BASE}changes/").json()["cursor"]

    CHILD_WRITES[write](alice, parent, child)

    now = alice.get(f"{BASE}{parent['id']}/", HTTP_IF_NONE_MATCH=etag)
    assert now.status_code == 200 and now["ETag"] != etag  # never a stale 304
    stale = alice.patch(f"{BASE}{parent['id']}/", {"title": "mine"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert parent["id"] in feed_ids(alice, cursor)


def test_a_subtasks_reopening_gives_its_parent_a_new_etag(alice: APIClient) -> None:
    parent = create(alice, "parent")
    child = create(alice, "child", parent_id=parent["id"])
    alice.patch(f"{BASE}{child['id']}/complete/")
    etag = alice.get(f"{BASE}{parent['id']}/")["ETag"]
    cursor = alice.get(f"{BASE}changes/").json()["cursor"]

    assert alice.patch(f"{BASE}{child['id']}/complete/").json()["completed"] is False

    assert alice.get(f"{BASE}{parent['id']}/", HTTP_IF_NONE_MATCH=etag).status_code == 200
    assert alice.delete(f"{BASE}{parent['id']}/", HTTP_IF_MATCH=etag).status_code == 412
    assert parent["id"] in feed_ids(alice, cursor) and counts(alice, parent) == (1, 1)


def test_a_subtasks_restore_gives_its_parent_a_new_etag(alice: APIClient) -> None:
    parent = create(alice, "parent")
    child = create(alice, "child", parent_id=parent["id"])
    alice.delete(f"{BASE}{child['id']}/")
    etag = alice.get(f"{BASE}{parent['id']}/")["ETag"]
    cursor = alice.get(f"{BASE}changes/").json()["cursor"]

    assert alice.post(f"{BASE}{child['id']}/restore/").status_code == 200

    assert alice.get(f"{BASE}{parent['id']}/", HTTP_IF_NONE_MATCH=etag).status_code == 200
    assert parent["id"] in feed_ids(alice, cursor)


def test_a_write_that_changes_no_count_leaves_the_parent_alone(alice: APIClient) -> None:
    parent = create(alice, "parent")
    child = create(alice, "child", parent_id=parent["id"])
    etag = alice.get(f"{BASE}{parent['id']}/")["ETag"]

    alice.patch(f"{BASE}{child['id']}/", {"title": "renamed", "tags": ["x"]}, format="json")
    alice.patch(f"{BASE}{child['id']}/", {"parent_id": parent["id"]}, format="json")  # where it was

    assert alice.get(f"{BASE}{parent['id']}/", HTTP_IF_NONE_MATCH=etag).status_code == 304


# Cascades: delete, restore, complete


def test_deleting_a_task_deletes_its_subtree_at_once_and_the_feed_reports_each(alice: APIClient) -> None:
    top, child, grandchild = chain(alice, 3)
    sibling = create(alice, "sibling", parent_id=top["id"])
    cursor = alice.get(f"{BASE}changes/").json()["cursor"]

    assert alice.delete(f"{BASE}{top['id']}/").status_code == 204

    ids = [task["id"] for task in (top, child, grandchild, sibling)]
    rows = Task.objects.filter(pk__in=ids)
    assert {task.deleted_at for task in rows} == {Task.objects.get(pk=top["id"]).deleted_at}
    assert alice.get(BASE).json()["count"] == 0
    answer = alice.get(f"{BASE}changes/", {"since": cursor}).json()
    assert {tombstone["id"] for tombstone in answer["deleted"]} == set(ids) and answer["changed"] == []


def test_restoring_a_task_restores_what_was_deleted_with_it_and_nothing_else(alice: APIClient) -> None:
    top, child, grandchild = chain(alice, 3)
    earlier = create(alice, "deleted before", parent_id=top["id"])
    alice.delete(f"{BASE}{earlier['id']}/")
    alice.delete(f"{BASE}{top['id']}/")
    cursor = alice.get(f"{BASE}changes/").json()["cursor"]

    restored = alice.post(f"{BASE}{top['id']}/restore/").json()

    live = {task["id"] for task in alice.get(BASE).json()["results"]}
    assert live == {top["id"], child["id"], grandchild["id"]}
    assert get(alice, grandchild)["parent_id"] == child["id"]
    assert (restored["subtasks_open"], restored["subtasks_total"]) == (1, 1)
    assert {task["id"] for task in alice.get(f"{BASE}changes/", {"since": cursor}).json()["changed"]} == live
    # The one deleted before still is, and can be restored on its own, back under its parent.
    assert alice.post(f"{BASE}{earlier['id']}/restore/").json()["parent_id"] == top["id"]


def test_a_subtask_restored_while_its_parent_is_deleted_comes_back_at_the_top_level(alice: APIClient) -> None:
    parent = create(alice, "parent")
    child = create(alice, "child", parent_id=parent["id"])
    alice.delete(f"{BASE}{child['id']}/")
    alice.delete(f"{BASE}{parent['id']}/")
    parent_version = Task.objects.get(pk=parent["id"]).version

    restored = alice.post(f"{BASE}{child['id']}/restore/").json()

    assert restored["parent_id"] is None and restored["deleted_at"] is None
    # The parent in the trash is untouched: its ETag, which a restore of it may send, still holds.
    assert Task.objects.get(pk=parent["id"]).version == parent_version


def test_a_subtask_that_no_longer_fits_under_its_parent_is_restored_at_the_top_level(alice: APIClient) -> None:
    parent = create(alice, "parent")
    child, grandchild = chain(alice, 2)
    alice.patch(f"{BASE}{child['id']}/", {"parent_id": parent["id"]}, format="json")  # levels 2 and 3
    alice.delete(f"{BASE}{child['id']}/")
    deeper = chain(alice, 2)
    alice.patch(f"{BASE}{parent['id']}/", {"parent_id": deeper[-1]["id"]}, format="json")  # parent now level 3

    restored = alice.post(f"{BASE}{child['id']}/restore/").json()

    assert restored["parent_id"] is None
    assert get(alice, grandchild)["parent_id"] == child["id"]


def test_completing_a_task_completes_its_open_subtasks_and_reopening_reopens_none(alice: APIClient) -> None:
    top, child, grandchild = chain(alice, 3)
    done_before = create(alice, "done before", parent_id=top["id"])
    alice.patch(f"{BASE}{done_before['id']}/complete/")
    completed_at = get(alice, done_before)["completed_at"]
    cursor = alice.get(f"{BASE}changes/").json()["cursor"]

    completed = alice.patch(f"{BASE}{top['id']}/complete/").json()

    assert completed["completed"] is True and (completed["subtasks_open"], completed["subtasks_total"]) == (0, 2)
    assert all(get(alice, task)["completed"] for task in (child, grandchild))
    assert get(alice, done_before)["completed_at"] == completed_at  # already done: untouched
    changed = {task["id"] for task in alice.get(f"{BASE}changes/", {"since": cursor}).json()["changed"]}
    assert changed == {top["id"], child["id"], grandchild["id"]}
    reopened = alice.patch(f"{BASE}{top['id']}/complete/").json()
    assert reopened["completed"] is False
    assert all(get(alice, task)["completed"] for task in (child, grandchild, done_before))


def test_writing_a_completed_task_again_completes_no_subtask_reopened_since(alice: APIClient) -> None:
    parent = create(alice, "parent")
    child = create(alice, "child", parent_id=parent["id"])
    alice.patch(f"{BASE}{parent['id']}/complete/")
    alice.patch(f"{BASE}{child['id']}/complete/")  # reopened on purpose

    alice.put(f"{BASE}{parent['id']}/", {"title": "renamed", "completed": True}, format="json")
    alice.patch(f"{BASE}{parent['id']}/complete/", {"completed": True}, format="json")

    assert get(alice, child)["completed"] is False


def test_completing_through_patch_cascades_too(alice: APIClient) -> None:
    parent = create(alice, "parent")
    child = create(alice, "child", parent_id=parent["id"])

    answer = alice.patch(f"{BASE}{parent['id']}/", {"completed": True}, format="json").json()

    assert get(alice, child)["completed"] is True and answer["subtasks_open"] == 0


def test_a_recurring_task_moved_to_its_next_occurrence_leaves_its_subtasks_open_and_its_last_completes_them(
    alice: APIClient,
) -> None:
    parent = create(alice, "water the plants", recurrence="FREQ=DAILY;COUNT=2", due_date="2030-01-01T09:00:00Z")
    child = create(alice, "fill the can", parent_id=parent["id"])

    moved = alice.patch(f"{BASE}{parent['id']}/complete/").json()

    assert (moved["completed"], moved["completions"], moved["subtasks_open"]) == (False, 1, 1)
    assert get(alice, child)["completed"] is False
    ended = alice.patch(f"{BASE}{parent['id']}/complete/").json()
    assert (ended["completed"], ended["completions"], ended["subtasks_open"]) == (True, 2, 0)
    assert get(alice, child)["completed"] is True


def test_a_failed_cascade_changes_nothing(alice: APIClient) -> None:
    top, child = chain(alice, 2)
    etag = alice.get(f"{BASE}{top['id']}/")["ETag"]
    create(alice, "another", parent_id=top["id"])  # the parent's ETag changes

    assert alice.patch(f"{BASE}{top['id']}/complete/", HTTP_IF_MATCH=etag).status_code == 412
    assert alice.delete(f"{BASE}{top['id']}/", HTTP_IF_MATCH=etag).status_code == 412

    assert not get(alice, child)["completed"] and alice.get(BASE).json()["count"] == 3


@pytest.mark.parametrize("subtasks", [1, 40])
def test_a_cascade_costs_the_same_statements_whatever_the_subtree(alice: APIClient, subtasks: int) -> None:
    top = create(alice, "top")
    for n in range(subtasks):
        create(alice, f"child {n}", parent_id=top["id"])

    with CaptureQueriesContext(connection) as completing:
        assert alice.patch(f"{BASE}{top['id']}/complete/").status_code == 200
    with CaptureQueriesContext(connection) as deleting:
        assert alice.delete(f"{BASE}{top['id']}/").status_code == 204

    # The task's UPDATE, its subtasks' (one statement, over the subtree) and the task read back with its new counts;
    # a delete reads the task first (the view's 404).
    assert work(completing) == ["UPDATE", "UPDATE", "SELECT"]
    assert work(deleting) == ["SELECT", "UPDATE", "UPDATE", "SELECT"]


def work(captured: CaptureQueriesContext) -> list[str]:
    """The statements' first words, without a transaction's own (SAVEPOINT, RELEASE SAVEPOINT)."""
    words = [query["sql"].split()[0] for query in captured.captured_queries]
    return [word for word in words if word not in ("SAVEPOINT", "RELEASE")]


def test_a_create_under_a_parent_is_the_owners_lock_one_check_and_the_insert(alice: APIClient) -> None:
    parent = create(alice, "parent")

    with CaptureQueriesContext(connection) as done:
        create(alice, "child", parent_id=parent["id"])

    work = [query["sql"] for query in done.captured_queries[1:-1]]
    # On SQLite, the top of the parent's subtasks is read before the INSERT (PostgreSQL's INSERT reads it itself).
    placing = [] if connection.vendor == "postgresql" else ["SELECT"]
    assert [sql.split()[0] for sql in work] == ["SELECT", "WITH", *placing, "INSERT"], work
    assert "tasks_taskchangecounter" in work[0]


def test_a_move_is_a_read_the_owners_lock_two_walks_and_the_update(alice: APIClient) -> None:
    first, second = create(alice, "first"), create(alice, "second")

    with CaptureQueriesContext(connection) as done:
        alice.patch(f"{BASE}{first['id']}/", {"parent_id": second["id"]}, format="json")

    work = [query["sql"] for query in done.captured_queries[1:-1]]
    # On SQLite, the task is put at the top of its new list after the UPDATE: a read of that top and a write of it
    # (PostgreSQL's UPDATE does both itself).
    placing = [] if connection.vendor == "postgresql" else ["SELECT", "UPDATE"]
    assert [sql.split()[0] for sql in work] == ["SELECT", "SELECT", "WITH", "WITH", "UPDATE", *placing], work


# The list's parent filter


def test_the_list_filters_by_parent_and_by_the_top_level(alice: APIClient, bob: APIClient) -> None:
    parent = create(alice, "parent")
    child = create(alice, "child", parent_id=parent["id"])
    create(alice, "grandchild", parent_id=child["id"])

    def listed(**params: Any) -> list[str]:
        return [task["title"] for task in alice.get(BASE, params).json()["results"]]

    assert listed(parent=parent["id"]) == ["child"]
    assert listed(parent="none") == ["parent"]
    assert listed(parent=10**40) == []
    alice.delete(f"{BASE}{child['id']}/")
    assert listed(parent=parent["id"]) == []
    assert listed(parent=child["id"], deleted="true") == ["grandchild"]
    # Bob's list never holds Alice's tasks, whichever parent he names.
    assert bob.get(f"/api/{BOB}/tasks/", {"parent": parent["id"]}).json()["results"] == []


@pytest.mark.parametrize("value", ["", "abc", "0", "-1", "+2", "07", "1.5", "None", " 3"])
def test_a_parent_filter_that_is_no_id_is_a_400(alice: APIClient, value: str) -> None:
    response = alice.get(BASE, {"parent": value})

    assert error(response)["attr"] == "parent"


def test_the_parent_filter_given_twice_is_a_400(alice: APIClient) -> None:
    assert error(alice.get(f"{BASE}?parent=1&parent=2"))["code"] == "repeated"


# Batches


def test_a_batch_creates_a_task_and_its_subtasks_by_ref(alice: APIClient) -> None:
    operations = [
        {"op": "create", "ref": "trip", "data": {"title": "Plan the trip"}},
        {"op": "create", "ref": "flights", "data": {"title": "Book flights", "parent_id": "$ref:trip"}},
        {"op": "create", "data": {"title": "Compare prices", "parent_id": "$ref:flights"}},
        {"op": "partial_update", "id": "$ref:trip", "data": {}},
    ]

    results = alice.post(f"{BASE}batch/", {"atomic": True, "operations": operations}, format="json").json()["results"]

    trip, flights, prices, trip_again = (result["body"] for result in results)
    assert flights["parent_id"] == trip["id"] and prices["parent_id"] == flights["id"]
    assert (trip["subtasks_total"], trip_again["subtasks_total"]) == (0, 1)  # each as its operation left it
    assert results[3]["etag"] == alice.get(f"{BASE}{trip['id']}/")["ETag"]


def test_a_batchs_parent_ref_must_name_an_earlier_operation(alice: APIClient) -> None:
    operations = [{"op": "create", "data": {"title": "x", "parent_id": "$ref:later"}}, {"op": "create", "ref": "later"}]

    response = alice.post(f"{BASE}batch/", {"operations": operations}, format="json")

    assert error(response) == {
        "code": "unknown_ref",
        "detail": 'No earlier operation has the ref "later".',
        "attr": "operations.0.data.parent_id",
    }


def test_a_parent_ref_of_a_failed_operation_is_a_failed_dependency(alice: APIClient) -> None:
    operations = [
        {"op": "create", "ref": "bad", "data": {"title": ""}},
        {"op": "create", "data": {"title": "x", "parent_id": "$ref:bad"}},
    ]

    results = alice.post(f"{BASE}batch/", {"operations": operations}, format="json").json()["results"]

    assert [result["status"] for result in results] == [400, 424]
    assert results[1]["body"]["errors"][0]["code"] == "failed_dependency"


def test_an_atomic_batch_whose_move_breaks_a_rule_changes_nothing(alice: APIClient) -> None:
    top, child = chain(alice, 2)
    operations = [
        {"op": "partial_update", "id": top["id"], "data": {"title": "renamed"}},
        {"op": "partial_update", "id": top["id"], "data": {"parent_id": child["id"]}},
    ]

    response = alice.post(f"{BASE}batch/", {"atomic": True, "operations": operations}, format="json")

    assert error(response)["attr"] == "operations.1.data.parent_id" and error(response)["code"] == "cycle"
    assert get(alice, top)["title"] == "level 1"


# Concurrency, on two real PostgreSQL connections


@pytest.fixture
def two_writers() -> Iterator[Callable[..., Any]]:
    """Run a service in a thread of its own (its own connection), in a transaction held open until released."""
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent transactions on PostgreSQL")
    threads: list[threading.Thread] = []

    def start(write: Callable[[], Any], hold: threading.Event | None = None) -> dict[str, Any]:
        outcome: dict[str, Any] = {"wrote": threading.Event()}

        def run() -> None:
            try:
                with transaction.atomic():
                    outcome["result"] = write()
                    outcome["wrote"].set()
                    if hold is not None:
                        assert hold.wait(10)
            except Exception as exc:  # what the test looks at
                outcome["error"] = exc
            finally:
                outcome["wrote"].set()
                connections.close_all()

        thread = threading.Thread(target=run)
        threads.append(thread)
        thread.start()
        return outcome

    yield start
    for thread in threads:
        thread.join(10)


def waits_for_a_lock() -> bool:
    for _ in range(100):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchall():
                return True
        threading.Event().wait(0.05)
    return False


@pytest.mark.django_db(transaction=True)
def test_two_moves_at_once_cannot_make_a_cycle(two_writers: Callable[..., Any]) -> None:
    a, b = (services.task_create(user_id=ALICE, title=title) for title in ("A", "B"))
    release = threading.Event()

    first = two_writers(lambda: services.task_update(tasks=Task.objects.filter(pk=a.pk), parent_id=b.pk), release)
    assert first["wrote"].wait(10) and "error" not in first
    second = two_writers(lambda: services.task_update(tasks=Task.objects.filter(pk=b.pk), parent_id=a.pk))
    assert waits_for_a_lock(), "the second move should wait for the first's lock on the owner"
    release.set()
    assert second["wrote"].wait(10)

    assert isinstance(second.get("error"), tree.InvalidParent) and second["error"].reason == "cycle"
    assert dict(Task.objects.values_list("pk", "parent_id")) == {a.pk: b.pk, b.pk: None}


@pytest.mark.django_db(transaction=True)
def test_two_moves_at_once_cannot_nest_past_the_depth(two_writers: Callable[..., Any]) -> None:
    # Two chains of two: each may go under the other's bottom (4 levels), not both (one would reach 6).
    top1 = services.task_create(user_id=ALICE, title="1")
    bottom1 = services.task_create(user_id=ALICE, title="1b", parent_id=top1.pk)
    top2 = services.task_create(user_id=ALICE, title="2")
    bottom2 = services.task_create(user_id=ALICE, title="2b", parent_id=top2.pk)
    release = threading.Event()

    first = two_writers(
        lambda: services.task_update(tasks=Task.objects.filter(pk=top1.pk), parent_id=bottom2.pk), release
    )
    assert first["wrote"].wait(10) and "error" not in first
    second = two_writers(lambda: services.task_update(tasks=Task.objects.filter(pk=top2.pk), parent_id=bottom1.pk))
    assert waits_for_a_lock()
    release.set()
    assert second["wrote"].wait(10)

    assert isinstance(second.get("error"), tree.InvalidParent)
    assert Task.objects.get(pk=top2.pk).parent_id is None and Task.objects.get(pk=top1.pk).parent_id == bottom2.pk


@pytest.mark.django_db(transaction=True)
def test_a_create_under_a_parent_being_deleted_waits_and_is_refused(two_writers: Callable[..., Any]) -> None:
    parent = services.task_create(user_id=ALICE, title="parent")
    release = threading.Event()

    first = two_writers(lambda: services.task_soft_delete(tasks=Task.objects.filter(pk=parent.pk)), release)
    assert first["wrote"].wait(10)
    second = two_writers(lambda: services.task_create(user_id=ALICE, title="child", parent_id=parent.pk))
    assert waits_for_a_lock()
    release.set()
    assert second["wrote"].wait(10)

    assert isinstance(second.get("error"), tree.InvalidParent) and second["error"].reason == "does_not_exist"
    assert not Task.objects.filter(title="child").exists()


# Purges


def test_a_purge_that_takes_a_parent_before_its_subtasks_leaves_them_in_the_trash_at_the_top_level(
    alice: APIClient, settings: Settings
) -> None:
    top, child, grandchild = chain(alice, 3)
    alice.delete(f"{BASE}{top['id']}/")
    Task.objects.filter(user_id=ALICE).update(deleted_at=timezone.now() - timezone.timedelta(days=40))
    settings.TASK_PURGE_BATCH_SIZE = 1

    assert services.tasks_purge_deleted(deleted_before=timezone.now(), limit=1) == 1  # the parent only

    left = {task.pk: task for task in Task.objects.filter(user_id=ALICE)}
    assert set(left) == {child["id"], grandchild["id"]}
    assert left[child["id"]].parent_id is None and left[child["id"]].deleted_at is not None
    call_command("purge_deleted_tasks", verbosity=0)

    assert not Task.objects.filter(user_id=ALICE).exists()


def test_support_purging_a_parent_sends_its_subtasks_to_the_trash(alice: APIClient) -> None:
    top, child, grandchild = chain(alice, 3)

    services.tasks_purge(tasks=Task.objects.filter(pk=top["id"]))

    assert alice.get(BASE).json()["count"] == 0
    trash = {task["id"]: task for task in alice.get(BASE, {"deleted": "true"}).json()["results"]}
    assert set(trash) == {child["id"], grandchild["id"]}
    assert trash[child["id"]]["parent_id"] is None and trash[grandchild["id"]]["parent_id"] == child["id"]
    assert alice.post(f"{BASE}{child['id']}/restore/").json()["parent_id"] is None
    assert alice.get(BASE).json()["count"] == 2


# Robustness


def test_a_stale_copy_saved_whole_keeps_the_counts_the_database_holds(make_task: Callable[..., Task]) -> None:
    parent = make_task(title="parent")
    stale = Task.objects.get(pk=parent.pk)
    services.task_create(user_id=ALICE, title="child", parent_id=parent.pk)

    stale.title = "renamed"
    stale.save()

    stored = Task.objects.get(pk=parent.pk)
    assert (stored.title, stored.subtasks_open, stored.subtasks_total) == ("renamed", 1, 1)


def test_the_walks_end_even_on_a_cycle_made_by_hand(make_task: Callable[..., Task]) -> None:
    a, b = make_task(title="a"), make_task(title="b")
    Task.objects.filter(pk=a.pk).update(parent=b)
    Task.objects.filter(pk=b.pk).update(parent=a)
    c = make_task(title="c")

    problem = tree.placement_problem(user_id=ALICE, parent_id=a.pk, placed=tree.subtree(c.pk), moving=c.pk)

    assert problem is not None and problem.reason == "cycle"
    assert set(tree.subtree(a.pk).ids) == {a.pk, b.pk}


def test_the_etag_of_a_parent_is_its_version(alice: APIClient, make_task: Callable[..., Task]) -> None:
    parent = make_task()
    services.task_create(user_id=ALICE, title="child", parent_id=parent.pk)
    parent.refresh_from_db()

    assert alice.get(f"{BASE}{parent.pk}/")["ETag"] == etag_for(parent) == f'"{parent.pk}-2"'


SQLITE_SCRIPT = """
import json
from tasks import services
from tasks.models import Task
parent = services.task_create(user_id="alice", title="parent")
child = services.task_create(user_id="alice", title="child", parent_id=parent.pk)
grandchild = services.task_create(user_id="alice", title="grandchild", parent_id=child.pk)
states = []
def state():
    row, below = Task.objects.get(pk=parent.pk), Task.objects.get(pk=grandchild.pk)
    states.append([row.subtasks_open, row.subtasks_total, row.version, row.change_seq, below.completed,
                   below.deleted_at is None])
state()
services.task_set_completed(tasks=Task.objects.filter(pk=child.pk), completed=True)
state()
services.task_soft_delete(tasks=Task.objects.filter(pk=child.pk))
state()
services.tasks_restore(tasks=Task.objects.filter(pk=child.pk))
state()
services.task_update(tasks=Task.objects.filter(pk=child.pk), parent_id=None)
state()
print(json.dumps(states))
"""


def test_subtasks_work_on_sqlite_too(tmp_path: Path) -> None:
    env = {**os.environ, "DJANGO_DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    manage("migrate", "--noinput", "-v0")
    states = json.loads(manage("shell", "-v0", "-c", SQLITE_SCRIPT).strip().splitlines()[-1])

    # After the two creates (the parent counts its child only), the child completed (with its own subtask), deleted
    # (with it), restored (with it) and moved away: the parent's counts, its version up by one each time (only the
    # child's write changed them) with a new change number, and the grandchild carried along.
    assert [state[:2] for state in states] == [[1, 1], [0, 1], [0, 0], [0, 1], [0, 0]]
    assert [state[2] for state in states] == [2, 3, 4, 5, 6]
    assert all(before[3] < after[3] for before, after in zip(states, states[1:], strict=False))
    assert [state[4:] for state in states] == [[False, True], [True, True], [True, False], [True, True], [True, True]]


# The admin


def change_url(task: Task) -> str:
    return reverse("admin:tasks_task_change", args=[task.pk])


def test_the_admin_lists_each_tasks_parent_as_a_link_and_its_counts(
    support: Client, make_task: Callable[..., Task]
) -> None:
    parent = make_task(title="Plan the trip")
    services.task_create(user_id=ALICE, title="Book flights", parent_id=parent.pk)
    done = services.task_create(user_id=ALICE, title="Pack", parent_id=parent.pk)
    services.task_set_completed(tasks=Task.objects.filter(pk=done.pk), completed=True)

    page = support.get(reverse("admin:tasks_task_changelist")).content.decode()

    assert f'<a href="{change_url(parent)}" title="Its parent task">Plan the trip</a>' in page
    assert "1 open of 2" in page


def test_the_parent_is_an_id_box_whose_lookup_lists_the_owners_live_tasks(
    support: Client, make_task: Callable[..., Task]
) -> None:
    parent = make_task(title="Plan the trip")
    child = services.task_create(user_id=ALICE, title="Book flights", parent_id=parent.pk)

    page = support.get(change_url(child)).content.decode()

    assert 'name="parent"' in page and f'value="{parent.pk}"' in page
    assert f"?_to_field=id&amp;user_id={ALICE}&amp;status=live" in page
    assert f'<a href="{change_url(parent)}">Plan the trip</a>' in page  # the parent as a link


def test_the_parents_lookup_lists_only_the_owners_live_tasks(support: Client, make_task: Callable[..., Task]) -> None:
    mine, deleted = make_task(title="mine"), make_task(title="deleted")
    make_task(BOB, title="Bob's")
    services.task_soft_delete(tasks=Task.objects.filter(pk=deleted.pk))
    lookup = f"?_to_field=id&user_id={ALICE}&status=live&_popup=1"

    response = support.get(reverse("admin:tasks_task_changelist") + lookup)

    assert response.status_code == 200
    assert [task.pk for task in response.context["cl"].result_list] == [mine.pk]  # not Bob's, not the deleted one


def form(task: Task, **changes: Any) -> dict[str, Any]:
    return {
        "title": task.title,
        "description": task.description,
        "priority": task.priority,
        "due_date_0": "",
        "due_date_1": "",
        "tags": "",
        "parent": task.parent_id or "",
        "recurrence": task.recurrence or "",
        "timezone": task.timezone,
        "rendered_version": task.version,
        "_save": "Save",
        **changes,
    }


@pytest.mark.parametrize("parent", ["bobs", "deleted", "itself", "its subtask"])
def test_the_change_form_refuses_a_parent_the_api_refuses_on_the_field(
    support: Client, make_task: Callable[..., Task], parent: str
) -> None:
    task = make_task(title="Mine")
    subtask = services.task_create(user_id=ALICE, title="below", parent_id=task.pk)
    deleted = make_task(title="deleted")
    services.task_soft_delete(tasks=Task.objects.filter(pk=deleted.pk))
    task.refresh_from_db()
    chosen = {"bobs": make_task(BOB), "deleted": deleted, "itself": task, "its subtask": subtask}[parent]

    response = support.post(change_url(task), form(task, parent=chosen.pk))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["parent"], errors
    expected = {"bobs": "no live task", "deleted": "no live task", "itself": "subtask of itself"}
    assert expected.get(parent, "subtask of itself") in errors["parent"][0]
    assert Task.objects.get(pk=task.pk).parent_id is None and not LogEntry.objects.exists()


def test_support_moves_a_task_under_another_through_the_service_and_it_is_logged(
    support: Client, make_task: Callable[..., Task]
) -> None:
    parent, task = make_task(title="Plan the trip"), make_task(title="Book flights")

    response = support.post(change_url(task), form(task, parent=parent.pk))

    assert response.status_code == 302
    assert Task.objects.get(pk=task.pk).parent_id == parent.pk
    stored = Task.objects.get(pk=parent.pk)
    assert (stored.subtasks_total, stored.version) == (1, 2)
    entry = LogEntry.objects.get(object_id=str(task.pk))
    assert entry.get_change_message() == f"Parent: (empty) → “Plan the trip” (task {parent.pk})."


def test_completing_a_parent_in_the_form_logs_each_subtask_it_completed(
    support: Client, make_task: Callable[..., Task]
) -> None:
    parent = make_task(title="Plan the trip")
    child = services.task_create(user_id=ALICE, title="Book flights", parent_id=parent.pk)
    parent.refresh_from_db()

    response = support.post(change_url(parent), form(parent, completed="on"))

    assert response.status_code == 302 and Task.objects.get(pk=child.pk).completed
    entry = LogEntry.objects.get(object_id=str(child.pk))
    assert entry.get_change_message() == "Completed with a task it is a subtask of. Completed: no → yes."


@pytest.mark.parametrize(
    ("action", "field", "message"),
    [
        ("mark_complete", "completed", "Marked complete with a task it is a subtask of. Completed: no → yes."),
        ("soft_delete", "deleted_at", "Soft-deleted with a task it is a subtask of. Deleted at: (empty) → "),
    ],
)
def test_actions_log_each_subtask_they_change_too(
    support: Client, make_task: Callable[..., Task], action: str, field: str, message: str
) -> None:
    parent = make_task(title="Plan the trip")
    child = services.task_create(user_id=ALICE, title="Book flights", parent_id=parent.pk)
    grandchild = services.task_create(user_id=ALICE, title="Compare prices", parent_id=child.pk)

    support.post(
        reverse("admin:tasks_task_changelist"), {"action": action, "_selected_action": [parent.pk]}, follow=True
    )

    for task in (child, grandchild):
        entry = LogEntry.objects.get(object_id=str(task.pk))
        assert entry.get_change_message().startswith(message), entry.get_change_message()
    assert LogEntry.objects.count() == 3


def test_the_restore_action_brings_the_subtree_back_and_logs_each(
    support: Client, make_task: Callable[..., Task]
) -> None:
    parent = make_task(title="Plan the trip")
    child = services.task_create(user_id=ALICE, title="Book flights", parent_id=parent.pk)
    services.task_soft_delete(tasks=Task.objects.filter(pk=parent.pk))

    support.post(
        reverse("admin:tasks_task_changelist"), {"action": "restore", "_selected_action": [parent.pk]}, follow=True
    )

    assert Task.objects.filter(deleted_at__isnull=True).count() == 2
    message = LogEntry.objects.get(object_id=str(child.pk)).get_change_message()
    assert message.startswith("Restored with a task it is a subtask of. Deleted at: ") and message.endswith("(empty).")


def test_a_superuser_cannot_add_a_task_under_another_users_task(
    superuser: Client, make_task: Callable[..., Task]
) -> None:
    alices = make_task(title="Alice's")
    add = {"user_id": BOB, "title": "x", "priority": Priority.MEDIUM, "timezone": "UTC", "parent": alices.pk}

    response = superuser.post(reverse("admin:tasks_task_add"), {**add, "_save": "Save"})

    assert response.status_code == 200 and list(response.context["adminform"].form.errors) == ["parent"]
    ok = superuser.post(reverse("admin:tasks_task_add"), {**add, "user_id": ALICE, "_save": "Save"})
    assert ok.status_code == 302 and Task.objects.get(title="x").parent_id == alices.pk


@pytest.fixture
def superuser(client: Client, django_user_model: type[AbstractUser]) -> Client:
    client.force_login(django_user_model.objects.create_superuser("root"))
    return client
