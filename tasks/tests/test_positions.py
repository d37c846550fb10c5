"""Manual order: every task has a place among its siblings, new tasks go to the top, ``POST …/move/`` puts a task
next to another one by writing its row alone, and no interleaving of writes ever puts two tasks at one place or
loses one."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models import QuerySet
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import ALICE, BOB
from tasks import services
from tasks.models import Task
from tasks.positions import POSITION_MAX_LENGTH, key_before, key_between

BASE = f"/api/{ALICE}/tasks/"
ROOT = Path(__file__).resolve().parents[2]


def move(client: APIClient, task_id: int, base: str = BASE, **where: Any) -> Any:
    return client.post(f"{base}{task_id}/move/", where, format="json")


def in_order(client: APIClient, base: str = BASE, **params: Any) -> list[int]:
    response = client.get(base, {"ordering": "position", "limit": 200, **params})
    assert response.status_code == 200, response.content
    return [task["id"] for task in response.json()["results"]]


def positions(user_id: str = ALICE) -> dict[int, str]:
    return dict(Task.objects.siblings(user_id, None).values_list("pk", "position"))


def versions(tasks: QuerySet[Task] | None = None) -> dict[int, int]:
    return dict((tasks if tasks is not None else Task.objects.all()).values_list("pk", "version"))


def error(response: Any) -> tuple[int, str, str | None]:
    [only] = response.json()["errors"]
    return response.status_code, only["code"], only["attr"]


@pytest.fixture
def three(alice: APIClient) -> list[int]:
    """Tasks A, B, C created in that order: the list shows C, B, A."""
    return [alice.post(BASE, {"title": title}).json()["id"] for title in "ABC"]


def test_new_tasks_go_to_the_top_of_their_list(alice: APIClient, three: list[int]) -> None:
    a, b, c = three
    d = alice.post(BASE, {"title": "D"}).json()

    assert in_order(alice) == [d["id"], c, b, a]
    assert d["position"] == Task.objects.get(pk=d["id"]).position
    # Each user has a list of their own: bob's first task is at the top of his, whatever alice's keys are.
    assert Task.objects.create(user_id=BOB, title="bob's").position == "a0"


def test_the_list_in_position_order_is_the_positions_sorted_byte_by_byte(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    # Keys on both sides of a letter case: a linguistic collation would put "a0" before "Zz".
    tasks = [make_task(title=f"task {n}") for n in range(70)]
    listed = alice.get(BASE, {"ordering": "position", "limit": 200}).json()["results"]

    keys = [task["position"] for task in listed]
    assert keys == sorted(keys, key=str.encode) and len(set(keys)) == len(keys)
    assert {key[0] for key in keys} >= {"Y", "Z", "a"}
    assert [task["id"] for task in listed] == [task.id for task in reversed(tasks)]
    assert all(task["position"].isascii() and task["position"].isalnum() for task in listed)


def test_the_position_column_compares_bytes_on_postgresql(db: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's default collation compares bytes already")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT collation_name FROM information_schema.columns "
            "WHERE table_name = 'tasks_task' AND column_name = 'position'"
        )
        assert cursor.fetchone() == ("C",)


def test_a_move_before_a_task_puts_it_right_before_it(alice: APIClient, three: list[int]) -> None:
    a, b, c = three

    response = move(alice, a, before=b)

    assert response.status_code == 200, response.content
    assert in_order(alice) == [c, a, b]
    assert response.json()["position"] == Task.objects.get(pk=a).position
    assert response["ETag"] == f'"{a}-{response.json()["version"]}"'


def test_a_move_after_a_task_puts_it_right_after_it(alice: APIClient, three: list[int]) -> None:
    a, b, c = three

    assert move(alice, c, after=b).status_code == 200
    assert in_order(alice) == [b, c, a]
    assert move(alice, b, after=a).status_code == 200  # to the bottom
    assert in_order(alice) == [c, a, b]
    assert move(alice, b, before=c).status_code == 200  # to the top
    assert in_order(alice) == [b, c, a]


def test_a_move_writes_the_moved_task_alone(alice: APIClient, three: list[int]) -> None:
    a, b, c = three
    before, keys = versions(), positions()
    cursor = alice.get(f"{BASE}changes/").json()["cursor"]

    moved = move(alice, a, before=c).json()

    assert moved["version"] == before[a] + 1
    assert {pk: v for pk, v in versions().items() if pk != a} == {pk: v for pk, v in before.items() if pk != a}
    assert {pk: p for pk, p in positions().items() if pk != a} == {pk: p for pk, p in keys.items() if pk != a}
    # The feed gives the move once, as the task now is.
    assert alice.get(f"{BASE}changes/", {"since": cursor}).json()["changed"] == [moved]


def test_a_move_to_where_the_task_already_is_keeps_its_key_and_makes_a_new_version(
    alice: APIClient, three: list[int]
) -> None:
    a, b, c = three
    key = positions()[b]

    response = move(alice, b, before=a)

    assert response.json()["position"] == key
    assert response.json()["version"] == 2
    assert in_order(alice) == [c, b, a]


@pytest.mark.parametrize("side", ["before", "after"])
@pytest.mark.parametrize("other", ["bob's task", "deleted task", "itself", "no task", "past the column"])
def test_a_move_next_to_anything_but_another_live_sibling_is_the_same_400_naming_the_field(
    alice: APIClient, bob: APIClient, three: list[int], side: str, other: str
) -> None:
    a, b, c = three
    bobs = bob.post(f"/api/{BOB}/tasks/", {"title": "Bob's"}).json()["id"]
    alice.delete(f"{BASE}{b}/")
    anchor = {"bob's task": bobs, "deleted task": b, "itself": a, "no task": bobs + 1000, "past the column": 2**70}
    before = list(Task.objects.order_by("pk").values())

    response = move(alice, a, **{side: anchor[other]})

    assert error(response) == (400, "not_a_sibling", side)
    # Word for word the same whichever it was: it tells nothing of whether bob's task exists.
    assert "Not another live task in the list this one goes to" in response.json()["errors"][0]["detail"]
    assert list(Task.objects.order_by("pk").values()) == before


@pytest.mark.parametrize(
    ("body", "code", "attr"),
    [
        ({}, "required", "non_field_errors"),
        ({"before": 1, "after": 2}, "before_and_after", "non_field_errors"),
        ({"before": 1, "position": "a0"}, "unknown_field", "non_field_errors"),
        ({"before": "1"}, "invalid", "before"),
        ({"after": True}, "invalid", "after"),
        ({"after": 1.0}, "invalid", "after"),
        ({"before": 0}, "min_value", "before"),
        ({"before": None}, "null", "before"),
    ],
)
def test_a_move_says_where_with_one_task_id(
    alice: APIClient, three: list[int], body: dict[str, Any], code: str, attr: str
) -> None:
    before = versions()

    response = move(alice, three[0], **body)

    assert error(response) == (400, code, attr)
    assert "task" in response.json()["errors"][0]["detail"]
    assert versions() == before


def test_a_move_without_a_body_is_a_400_saying_where_to_put_it(alice: APIClient, three: list[int]) -> None:
    response = alice.post(f"{BASE}{three[0]}/move/")

    assert error(response) == (400, "required", "non_field_errors")


def test_only_a_live_task_of_yours_can_be_moved(alice: APIClient, bob: APIClient, three: list[int]) -> None:
    a, b, c = three
    alice.delete(f"{BASE}{a}/")
    before = list(Task.objects.order_by("pk").values())

    assert move(alice, a, before=b).status_code == 404
    assert move(bob, b, base=f"/api/{BOB}/tasks/", before=c).status_code == 404
    assert move(bob, b, before=c).status_code == 403
    assert list(Task.objects.order_by("pk").values()) == before


def test_a_move_under_if_match_happens_only_if_the_task_is_as_read(alice: APIClient, three: list[int]) -> None:
    a, b, c = three
    etag = alice.get(f"{BASE}{a}/")["ETag"]
    alice.patch(f"{BASE}{a}/", {"title": "changed elsewhere"})
    before = list(Task.objects.order_by("pk").values())

    stale = alice.post(f"{BASE}{a}/move/", {"before": c}, format="json", HTTP_IF_MATCH=etag)
    malformed = alice.post(f"{BASE}{a}/move/", {"before": c}, format="json", HTTP_IF_MATCH="3")

    assert error(stale) == (412, "precondition_failed", None)
    assert error(malformed) == (400, "invalid_if_match", "If-Match")
    assert list(Task.objects.order_by("pk").values()) == before
    current = alice.get(f"{BASE}{a}/")["ETag"]
    moved = alice.post(f"{BASE}{a}/move/", {"before": c}, format="json", HTTP_IF_MATCH=current)
    assert moved.status_code == 200 and moved["ETag"] != current
    assert in_order(alice) == [a, c, b]


def test_a_retried_move_with_its_idempotency_key_moves_once(alice: APIClient, three: list[int]) -> None:
    a, b, c = three
    key = str(uuid.uuid4())

    first = alice.post(f"{BASE}{a}/move/", {"before": c}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    # Meanwhile another device moves it elsewhere: the retry must not move it back.
    move(alice, a, after=b)
    again = alice.post(f"{BASE}{a}/move/", {"before": c}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == 200
    assert (again.status_code, again.content, again["ETag"]) == (200, first.content, first["ETag"])
    assert again["Idempotent-Replayed"] == "true"
    assert in_order(alice) == [c, b, a]
    assert Task.objects.get(pk=a).version == 3


def test_descending_position_is_the_list_upside_down(alice: APIClient, three: list[int]) -> None:
    assert in_order(alice, ordering="-position") == list(reversed(in_order(alice)))


def test_tasks_at_one_place_in_the_trash_are_listed_newest_first(alice: APIClient, three: list[int]) -> None:
    a, b, c = three
    alice.delete(f"{BASE}{b}/")
    move(alice, a, before=c)  # may take b's old key; then tie it, whatever it took
    Task.objects.filter(pk=a).update(position=Task.objects.get(pk=b).position)
    alice.delete(f"{BASE}{a}/")

    assert in_order(alice, deleted="true") == [b, a]  # same key: the newest id first


def test_a_restored_task_goes_back_to_its_place(alice: APIClient, three: list[int]) -> None:
    a, b, c = three
    key = positions()[b]
    alice.delete(f"{BASE}{b}/")
    alice.post(BASE, {"title": "D"})

    restored = alice.post(f"{BASE}{b}/restore/").json()

    assert restored["position"] == key
    assert in_order(alice)[1:] == [c, b, a]


def test_a_restored_task_whose_place_was_taken_goes_to_the_top(alice: APIClient, three: list[int]) -> None:
    a, b, c = three
    key = positions()[b]
    alice.delete(f"{BASE}{b}/")
    Task.objects.filter(pk=a).update(position=key)  # as a move could have

    restored = alice.post(f"{BASE}{b}/restore/")

    assert restored.status_code == 200, restored.content
    assert in_order(alice) == [b, c, a]
    assert restored.json()["version"] == Task.objects.get(pk=b).version


def test_tasks_restored_together_that_held_one_place_get_one_place_each(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    first, second, other = (make_task(title=title) for title in ("first", "second", "other"))
    services.tasks_soft_delete(tasks=Task.objects.filter(pk__in=[first.pk, second.pk]))
    Task.objects.filter(pk=second.pk).update(position=first.position)

    restored = services.tasks_restore(tasks=Task.objects.filter(pk__in=[first.pk, second.pk]))

    assert sorted(task.pk for task in restored) == [first.pk, second.pk]
    assert Task.objects.get(pk=first.pk).position == first.position
    assert in_order(alice) == [second.pk, other.pk, first.pk]


def test_postgresqls_key_before_a_list_is_fractional_indexings(db: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite places new tasks with the library itself")
    # Every shape of key a list can start with: integers of every head near their ends, and fractions.
    keys: list[str | None] = [None, "a0", "a1", "az", "b00", "b01", "bz0", "c000", "Zz", "Z1", "Y00", "Yz0"]
    keys += ["a0V", "b00V", "Zz5", "e00000", "dzzzz", "z" + "z" * 26, "A" + "0" * 25 + "1"]
    key, rng = None, random.Random(7)
    for _ in range(3000):  # down from the first key, and between random neighbours
        key = key_before(key)
        above = [other for other in keys[-50:] if other is not None and other > key]
        keys += [key, key_between(key, rng.choice(above) if above else None)]

    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT tasks_key_before(%s)", [key])
            assert cursor.fetchone()[0] == key_before(key), key


def grow(client: APIClient, anchor: int, movers: tuple[int, int], length: int) -> int:
    """Move ``movers`` in turn right after ``anchor`` until a key of the list is longer than ``length``: each takes a
    key between the anchor's and the other's, which is right after it, so the keys there grow. Returns the mover to
    move next, whose move makes a longer key still."""
    for n in range(60):
        response = move(client, movers[n % 2], after=anchor)
        assert response.status_code == 200, response.content
        if len(response.json()["position"]) > length:
            return movers[(n + 1) % 2]
    raise AssertionError("the keys did not grow")


def moved_after(order: list[int], task_id: int, anchor: int) -> list[int]:
    order = [pk for pk in order if pk != task_id]
    order.insert(order.index(anchor) + 1, task_id)
    return order


def test_a_move_that_makes_a_long_key_rebalances_its_list_once_it_commits(
    alice: APIClient,
    make_task: Callable[..., Task],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    tasks = [make_task(title=f"task {n}") for n in range(5)]
    bobs = make_task(user_id=BOB)
    following = grow(alice, tasks[3].pk, (tasks[0].pk, tasks[1].pk), 3)
    monkeypatch.setattr(services, "REBALANCE_LENGTH", 3)
    order, before = in_order(alice), versions()
    cursor = alice.get(f"{BASE}changes/").json()["cursor"]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        moved = move(alice, following, after=tasks[3].pk).json()

    assert len(callbacks) == 1
    assert len(moved["position"]) > 3  # the move itself wrote its long key; the rebalance came after
    assert in_order(alice) == moved_after(order, following, tasks[3].pk)
    assert all(len(key) <= 3 for key in positions().values())
    # Every task of the list rewritten, each a new version given by the feed; bob's list untouched.
    assert versions(Task.objects.filter(user_id=ALICE)) == {
        pk: version + 1 + (pk == following) for pk, version in before.items() if pk != bobs.pk
    }
    changed = alice.get(f"{BASE}changes/", {"since": cursor}).json()["changed"]
    assert {task["id"]: task["position"] for task in changed} == positions()
    assert Task.objects.get(pk=bobs.pk).version == 1


def test_a_list_without_long_keys_is_left_as_it_is(alice: APIClient, three: list[int]) -> None:
    task = Task.objects.get(pk=three[0])
    before = versions()

    assert services.list_rebalance(task=task) == 0
    assert versions() == before


def test_a_key_past_the_columns_bound_rebalances_the_list_before_the_move(
    alice: APIClient, make_task: Callable[..., Task], monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = [make_task(title=f"task {n}") for n in range(4)]
    following = grow(alice, tasks[3].pk, (tasks[0].pk, tasks[1].pk), 3)
    monkeypatch.setattr(services, "POSITION_MAX_LENGTH", 3)
    order = in_order(alice)

    response = move(alice, following, after=tasks[3].pk)

    assert response.status_code == 200, response.content
    assert in_order(alice) == moved_after(order, following, tasks[3].pk)
    assert max(len(key) for key in positions().values()) <= 3


def test_the_columns_bound_is_the_keys_bound() -> None:
    assert Task._meta.get_field("position").max_length == POSITION_MAX_LENGTH == services.POSITION_MAX_LENGTH


def test_a_batch_moves_tasks_as_the_single_request_does(alice: APIClient, three: list[int]) -> None:
    a, b, c = three
    etag = alice.get(f"{BASE}{a}/")["ETag"]
    body = {
        "atomic": True,
        "operations": [
            {"op": "create", "ref": "d", "data": {"title": "D"}},
            {"op": "move", "id": a, "data": {"after": "$ref:d"}, "if_match": etag},
            {"op": "move", "id": "$ref:d", "data": {"before": b}},
        ],
    }

    response = alice.post(f"{BASE}batch/", body, format="json")

    assert response.status_code == 200, response.content
    d = response.json()["results"][0]["body"]["id"]
    assert [result["status"] for result in response.json()["results"]] == [201, 200, 200]
    assert in_order(alice) == [a, c, d, b]
    assert response.json()["results"][2]["etag"] == f'"{d}-2"'


def test_a_batch_move_next_to_an_unknown_ref_is_a_400_and_nothing_runs(alice: APIClient, three: list[int]) -> None:
    before = versions()
    body = {"operations": [{"op": "move", "id": three[0], "data": {"before": "$ref:nowhere"}}]}

    response = alice.post(f"{BASE}batch/", body, format="json")

    assert error(response) == (400, "unknown_ref", "operations.0.data.before")
    assert versions() == before


def test_a_batch_move_next_to_a_task_whose_create_failed_is_a_424(alice: APIClient, three: list[int]) -> None:
    body = {
        "operations": [
            {"op": "create", "ref": "bad", "data": {"title": ""}},
            {"op": "move", "id": three[0], "data": {"after": "$ref:bad"}},
        ]
    }

    results = alice.post(f"{BASE}batch/", body, format="json").json()["results"]

    assert [result["status"] for result in results] == [400, 424]
    assert results[1]["body"]["errors"][0]["code"] == "failed_dependency"


def test_an_atomic_batch_whose_move_fails_names_its_field_and_changes_nothing(
    alice: APIClient, bob: APIClient, three: list[int]
) -> None:
    bobs = bob.post(f"/api/{BOB}/tasks/", {"title": "Bob's"}).json()["id"]
    before = list(Task.objects.order_by("pk").values())
    body = {
        "atomic": True,
        "operations": [
            {"op": "partial_update", "id": three[1], "data": {"title": "B2"}},
            {"op": "move", "id": three[0], "data": {"before": bobs}},
        ],
    }

    response = alice.post(f"{BASE}batch/", body, format="json")

    assert error(response) == (400, "not_a_sibling", "operations.1.data.before")
    assert list(Task.objects.order_by("pk").values()) == before


def test_the_admin_shows_positions_read_only_and_sorts_by_them(support: Client, make_task: Callable[..., Task]) -> None:
    tasks = [make_task(title=f"task {n}") for n in range(3)]
    services.task_move(tasks=Task.objects.filter(pk=tasks[2].pk), after=tasks[0].pk)
    changelist = "/admin/tasks/task/"
    column = support.get(changelist).context["cl"].list_display.index("position")

    listed = support.get(changelist, {"user_id": ALICE, "o": str(column)}).context["cl"].result_list
    form = support.get(f"{changelist}{tasks[0].pk}/change/")

    assert [task.pk for task in listed] == [tasks[1].pk, tasks[0].pk, tasks[2].pk]
    assert "position" not in form.context["adminform"].form.fields
    assert tasks[0].position in form.content.decode()


def test_bulk_created_tasks_go_to_the_top_as_if_created_one_by_one(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    old = make_task(title="old")
    created = Task.objects.bulk_create(Task(user_id=ALICE, title=f"new {n}") for n in range(3))

    assert in_order(alice) == [*(task.pk for task in reversed(created)), old.pk]


# Concurrency: many writers of one list at once, each thread with its own PostgreSQL connection.


Write = tuple[int, str, int, Any, Any]  # change number, kind, task, neighbour, list (its parent: None, an id)


def replay(start: dict[Any, list[int]], writes: list[Write]) -> dict[Any, list[int]]:
    """The lists after ``writes``, applied in the order they committed."""
    lists = {parent: list(tasks) for parent, tasks in start.items()}
    for _, kind, task_id, anchor, parent in sorted(writes):
        for tasks in lists.values():
            if task_id in tasks:
                tasks.remove(task_id)
        if kind in ("create", "top"):  # the top of its list: a new task, or one moved to an empty list
            lists[parent].insert(0, task_id)
        else:
            lists[parent].insert(lists[parent].index(anchor) + (kind == "after"), task_id)
    return lists


def run_writers(writer: Callable[[random.Random], list[Any]], threads: int) -> tuple[list[Any], list[BaseException]]:
    results: list[Any] = []
    failures: list[BaseException] = []
    start = threading.Barrier(threads)

    def run(seed: int) -> None:
        try:
            start.wait()
            results.extend(writer(random.Random(seed)))
        except BaseException as exc:  # reported by the test, whatever it is
            failures.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=run, args=(seed,)) for seed in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    return results, failures


@pytest.fixture
def postgresql(transactional_db: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions are PostgreSQL's; CI runs this on PostgreSQL")


@pytest.mark.parametrize("rebalancing", [False, True], ids=["short keys", "rebalancing"])
def test_concurrent_moves_and_creates_keep_each_task_at_a_place_of_its_own_in_commit_order(
    postgresql: None, monkeypatch: pytest.MonkeyPatch, rebalancing: bool
) -> None:
    if rebalancing:
        # Keys past 2 characters rebalance, and past 3 force one in the move: most moves do one or the other.
        monkeypatch.setattr(services, "REBALANCE_LENGTH", 2)
        monkeypatch.setattr(services, "POSITION_MAX_LENGTH", 3)
    # Two lists: the top level, and the subtasks of one task there, between which tasks move too.
    parent = services.task_create(user_id=ALICE, title="parent").pk
    start = {
        None: [services.task_create(user_id=ALICE, title=f"task {n}").pk for n in range(6)][::-1] + [parent],
        parent: [services.task_create(user_id=ALICE, title=f"sub {n}", parent_id=parent).pk for n in range(3)][::-1],
    }
    bobs = services.task_create(user_id=BOB, title="bob's")

    def writer(rng: random.Random) -> list[Write]:
        done: list[Write] = []
        refused = 0
        while len(done) < 25 and refused < 100:  # a refused move is not counted: another is tried in its place
            to = rng.choice([None, parent])
            if rng.random() < 0.15:
                task = services.task_create(user_id=ALICE, title="new", parent_id=to)
                done.append((task.change_seq, "create", task.pk, None, to))
                continue
            movable = list(Task.objects.live().filter(user_id=ALICE).exclude(pk=parent).values_list("pk", flat=True))
            task_id = rng.choice(movable)
            anchors = [pk for pk in Task.objects.siblings(ALICE, to).values_list("pk", flat=True) if pk != task_id]
            side, anchor = (rng.choice(["before", "after"]), rng.choice(anchors)) if anchors else ("top", None)
            where = {side: anchor} if anchor is not None else {}
            try:
                moved = services.task_move(tasks=Task.objects.filter(pk=task_id), parent_id=to, **where)
            except (services.OperationalError, services.ValidationError):
                # A move past the bound while its list was being written, or next to a task moved away since it
                # was read: refused, and nothing changed.
                refused += 1
                continue
            done.append((moved.change_seq, side, task_id, anchor, to))
        return done

    writes, failures = run_writers(writer, threads=8)

    assert failures == []
    expected = replay(start, writes)
    for to, tasks in expected.items():
        live = Task.objects.siblings(ALICE, to)
        keys = list(live.values_list("position", flat=True))
        assert len(keys) == len(set(keys))
        # Every move was made next to its neighbour as the lists stood when it committed, one after the other.
        assert list(live.order_by("position").values_list("pk", flat=True)) == tasks
    creates = sum(kind == "create" for _, kind, *_ in writes)
    assert Task.objects.live().filter(user_id=ALICE).count() == 10 + creates
    assert len(writes) == 8 * 25
    assert Task.objects.get(pk=bobs.pk).version == 1


def test_concurrent_creates_each_get_the_top_in_the_order_they_committed(postgresql: None) -> None:
    def writer(rng: random.Random) -> list[tuple[int, int]]:
        return [
            (task.change_seq, task.pk) for task in (services.task_create(user_id=ALICE, title="new") for _ in range(20))
        ]

    created, failures = run_writers(writer, threads=10)

    assert failures == []
    assert list(Task.objects.siblings(ALICE, None).order_by("position").values_list("pk", flat=True)) == [
        pk for _, pk in sorted(created, reverse=True)
    ]


@pytest.fixture
def held_row(postgresql: None) -> Iterator[Callable[[int], None]]:
    """Another connection's transaction holding a task's row, as a write in progress does."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as other:

        def hold(task_id: int) -> None:
            other.execute("SELECT id FROM tasks_task WHERE id = %s FOR UPDATE", [task_id])

        yield hold
        other.rollback()


def test_a_rebalance_gives_up_at_once_while_a_task_of_its_list_is_being_written(
    alice: APIClient, held_row: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = [services.task_create(user_id=ALICE, title=f"task {n}") for n in range(4)]
    grow(alice, tasks[3].pk, (tasks[0].pk, tasks[1].pk), 3)
    monkeypatch.setattr(services, "REBALANCE_LENGTH", 3)
    held_row(tasks[2].pk)
    before = list(Task.objects.order_by("pk").values())

    assert services.list_rebalance(task=tasks[0]) == 0
    assert list(Task.objects.order_by("pk").values()) == before


def test_a_move_past_the_bound_while_its_list_is_being_written_is_a_503_that_changes_nothing(
    alice: APIClient, held_row: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = [services.task_create(user_id=ALICE, title=f"task {n}") for n in range(4)]
    following = grow(alice, tasks[3].pk, (tasks[0].pk, tasks[1].pk), 3)
    monkeypatch.setattr(services, "POSITION_MAX_LENGTH", 3)
    held_row(tasks[2].pk)
    before = list(Task.objects.order_by("pk").values())
    alice.raise_request_exception = False  # the 503's error is logged, as a server error is

    response = move(alice, following, after=tasks[3].pk)

    assert error(response) == (503, "service_unavailable", None)
    assert list(Task.objects.order_by("pk").values()) == before


# The migration: the tasks there already get places in the order the list showed them (newest first).


def test_the_migration_places_existing_tasks_newest_first_with_new_versions(transactional_db: None) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("tasks", "0007_change_feed")])
    now = timezone.now()
    with connection.cursor() as cursor:
        for n, (user_id, deleted) in enumerate([(ALICE, False), (BOB, False), (ALICE, True), (ALICE, False)]):
            cursor.execute(
                "INSERT INTO tasks_task (user_id, title, description, completed, priority, created_at, updated_at, "
                "deleted_at, tag_keys, tags, version) VALUES (%s, %s, '', %s, 2, %s, %s, %s, '', '[]', 1)",
                [user_id, f"task {n}", False, now.replace(microsecond=n), now, now if deleted else None],
            )
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    rows = list(Task.objects.order_by("user_id", "position").values_list("user_id", "title", "position", "version"))
    assert rows == [
        (ALICE, "task 3", "e00000", 2),
        (ALICE, "task 2", "e00001", 2),
        (ALICE, "task 0", "e00002", 2),
        (BOB, "task 1", "e00000", 2),
    ]
    # The change feed's triggers survived the migration (SQLite rebuilds the table): a write is numbered.
    task = Task.objects.get(title="task 3")
    services.task_move(tasks=Task.objects.filter(pk=task.pk), after=Task.objects.get(title="task 0").pk)
    assert Task.objects.get(pk=task.pk).change_seq == max(Task.objects.values_list("change_seq", flat=True))
    assert [title for (title,) in Task.objects.siblings(ALICE, None).order_by("position").values_list("title")] == [
        "task 0",
        "task 3",
    ]


SQLITE_SCRIPT = """
import json
from tasks import services
from tasks.models import Task
a, b, c = (services.task_create(user_id="alice", title=title) for title in "ABC")
services.task_move(tasks=Task.objects.filter(pk=a.pk), before=c.pk)
services.task_soft_delete(tasks=Task.objects.filter(pk=b.pk))
services.task_create(user_id="alice", title="D")
services.tasks_restore(tasks=Task.objects.filter(pk=b.pk))
s = services.task_create(user_id="alice", title="S", parent_id=c.pk)
services.task_update(tasks=Task.objects.filter(pk=s.pk), parent_id=None)
order = list(Task.objects.siblings("alice", None).order_by("position").values_list("title", flat=True))
seqs = list(Task.objects.order_by("change_seq").values_list("title", flat=True))
print(json.dumps({"order": order, "seqs": seqs}))
"""


def test_manual_order_works_on_sqlite(tmp_path: Path) -> None:
    env = {**os.environ, "DJANGO_DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    manage("migrate", "--noinput", "-v0")
    manage("migrate", "tasks", "0007", "--noinput", "-v0")  # the column goes, reversibly
    manage("migrate", "--noinput", "-v0")
    result = json.loads(manage("shell", "-v0", "-c", SQLITE_SCRIPT).strip().splitlines()[-1])

    # The subtask went to the top of the top level (placed after its write, on SQLite, which numbers it again); C's
    # counts changed twice (migration 0008's triggers).
    assert result == {"order": ["S", "D", "A", "C", "B"], "seqs": ["A", "D", "B", "C", "S"]}


def test_the_move_service_takes_one_neighbour_at_most_and_something(alice: APIClient, three: list[int]) -> None:
    tasks = Task.objects.filter(pk=three[0])

    with pytest.raises(ValueError, match="at most one"):
        services.task_move(tasks=tasks)
    with pytest.raises(ValueError, match="at most one"):
        services.task_move(tasks=tasks, before=three[1], after=three[2])


def test_a_rebalance_lets_any_other_database_error_through(
    alice: APIClient, three: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> int:
        raise services.OperationalError("the server closed the connection")

    monkeypatch.setattr(services, "_rebalance", broken)

    with pytest.raises(services.OperationalError, match="closed"):
        services.list_rebalance(task=Task.objects.get(pk=three[0]))


# Subtasks: each task's subtasks are a list of their own.


def listed(client: APIClient, parent: int | str) -> list[int]:
    return in_order(client, parent=parent)


def test_a_new_subtask_goes_to_the_top_of_its_parents_subtasks(alice: APIClient, three: list[int]) -> None:
    a, b, c = three
    first = alice.post(BASE, {"title": "first", "parent_id": a}).json()
    second = alice.post(BASE, {"title": "second", "parent_id": a}).json()

    assert listed(alice, a) == [second["id"], first["id"]]
    assert listed(alice, "none") == [c, b, a]
    # Each list has keys of its own: the first subtask's is the one the first task of any list gets.
    assert first["position"] == "a0" == Task.objects.get(pk=a).position


def test_a_move_with_a_parent_puts_the_task_among_that_parents_subtasks(alice: APIClient, three: list[int]) -> None:
    a, b, c = three
    sub = alice.post(BASE, {"title": "sub", "parent_id": a}).json()["id"]

    to_top = move(alice, c, parent_id=a)
    after_sub = move(alice, b, parent_id=a, after=sub)

    assert (to_top.status_code, after_sub.status_code) == (200, 200), (to_top.content, after_sub.content)
    assert to_top.json()["parent_id"] == a
    assert listed(alice, a) == [c, sub, b]
    assert listed(alice, "none") == [a]
    assert alice.get(f"{BASE}{a}/").json()["subtasks_total"] == 3
    back = move(alice, sub, parent_id=None, before=a)
    assert back.status_code == 200 and back.json()["parent_id"] is None
    assert listed(alice, "none") == [sub, a]


def test_a_move_to_the_parent_it_has_without_a_neighbour_keeps_its_place(alice: APIClient, three: list[int]) -> None:
    a, b, c = three
    key = positions()[b]

    response = move(alice, b, parent_id=None)

    assert (response.json()["position"], response.json()["version"]) == (key, 2)
    assert in_order(alice) == [c, b, a]


@pytest.mark.parametrize("parent", ["bob's task", "deleted task", "itself", "its subtask", "no task"])
def test_a_move_under_a_parent_the_rules_refuse_is_a_400_naming_parent_id(
    alice: APIClient, bob: APIClient, three: list[int], parent: str
) -> None:
    a, b, c = three
    bobs = bob.post(f"/api/{BOB}/tasks/", {"title": "Bob's"}).json()["id"]
    sub = alice.post(BASE, {"title": "sub", "parent_id": a}).json()["id"]
    alice.delete(f"{BASE}{b}/")
    parents = {"bob's task": bobs, "deleted task": b, "itself": a, "its subtask": sub, "no task": bobs + 1000}
    before = list(Task.objects.order_by("pk").values())

    response = move(alice, a, parent_id=parents[parent])

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"] == "parent_id"
    assert list(Task.objects.order_by("pk").values()) == before


def test_a_move_under_a_parent_next_to_a_task_of_another_list_is_a_400_naming_the_field(
    alice: APIClient, three: list[int]
) -> None:
    a, b, c = three
    before = versions()

    response = move(alice, c, parent_id=a, before=b)  # b is a top-level task, not one of a's subtasks

    assert error(response) == (400, "not_a_sibling", "before")
    assert versions() == before


def test_a_task_given_another_parent_by_a_write_goes_to_the_top_of_its_new_list(
    alice: APIClient, three: list[int]
) -> None:
    a, b, c = three
    sub = alice.post(BASE, {"title": "sub", "parent_id": a}).json()["id"]

    patched = alice.patch(f"{BASE}{c}/", {"parent_id": a}).json()
    # A PUT replaces the whole task: without a parent_id, a subtask goes back to the top level, at its top.
    put = alice.put(f"{BASE}{sub}/", {"title": "sub, now top-level"}).json()
    retitled = alice.patch(f"{BASE}{c}/", {"title": "same parent", "parent_id": a}).json()

    assert listed(alice, a) == [c]
    assert listed(alice, "none") == [sub, b, a]
    assert patched["position"] == Task.objects.get(pk=c).position == retitled["position"]
    assert put["position"] == positions()[sub]


def test_a_restored_task_whose_parent_is_gone_goes_to_the_top_of_the_top_level(
    alice: APIClient, three: list[int]
) -> None:
    a, b, c = three
    sub = alice.post(BASE, {"title": "sub", "parent_id": a}).json()["id"]
    alice.delete(f"{BASE}{sub}/")
    alice.delete(f"{BASE}{a}/")

    restored = alice.post(f"{BASE}{sub}/restore/").json()

    assert restored["parent_id"] is None
    assert listed(alice, "none") == [sub, c, b]


def test_subtasks_restored_with_their_parent_keep_their_places(alice: APIClient, three: list[int]) -> None:
    a, b, c = three
    subs = [alice.post(BASE, {"title": f"sub {n}", "parent_id": a}).json()["id"] for n in range(3)]
    move(alice, subs[0], before=subs[2])
    order = listed(alice, a)
    alice.delete(f"{BASE}{a}/")

    assert alice.post(f"{BASE}{a}/restore/").status_code == 200
    assert listed(alice, a) == order
    assert listed(alice, "none") == [c, b, a]


def test_a_batch_moves_a_task_under_a_parent_it_creates(alice: APIClient, three: list[int]) -> None:
    a, b, c = three
    body = {
        "atomic": True,
        "operations": [
            {"op": "create", "ref": "p", "data": {"title": "P"}},
            {"op": "create", "ref": "s", "data": {"title": "S", "parent_id": "$ref:p"}},
            {"op": "move", "id": a, "data": {"parent_id": "$ref:p", "after": "$ref:s"}},
        ],
    }

    response = alice.post(f"{BASE}batch/", body, format="json")

    assert response.status_code == 200, response.content
    p, s = (result["body"]["id"] for result in response.json()["results"][:2])
    assert listed(alice, p) == [s, a]
    assert listed(alice, "none") == [p, c, b]


def index_reads(name: str) -> int:
    with connection.cursor() as cursor:
        # Scans of the index in this transaction, counted at once (the cumulative statistics wait for its end).
        cursor.execute("SELECT pg_stat_get_xact_numscans(%s::regclass)", [name])
        return cursor.fetchone()[0]


def test_postgresql_places_a_new_task_by_reading_its_lists_own_index(db: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite places new tasks in Python")
    parent = services.task_create(user_id=ALICE, title="parent")
    Task.objects.bulk_create(Task(user_id=ALICE, title=f"task {n}", parent_id=parent.pk) for n in range(200))
    Task.objects.bulk_create(Task(user_id=ALICE, title=f"task {n}") for n in range(200))
    indexes = ("task_user_live_position_uniq", "task_parent_live_position_uniq")
    reads = {name: index_reads(name) for name in indexes}

    # As a raw INSERT does it (bench/seed.py), so that only the trigger reads: no tree check before it.
    with connection.cursor() as cursor:
        for parent_id in (None, parent.pk):
            cursor.execute(
                "INSERT INTO tasks_task (user_id, title, description, completed, priority, created_at, updated_at, "
                "tag_keys, tags, parent_id) VALUES (%s, 'raw', '', false, 2, now(), now(), '', '[]', %s)",
                [ALICE, parent_id],
            )

    # One read of each list's own index: not a sort of the user's tasks.
    assert {name: index_reads(name) - reads[name] for name in indexes} == {name: 1 for name in indexes}
    assert Task.objects.get(title="raw", parent=None).position == key_before(
        Task.objects.siblings(ALICE, None).exclude(title="raw").first_position()
    )
