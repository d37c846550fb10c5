"""The change feed (GET …/tasks/changes/): a client that follows its cursors holds exactly the server's tasks,
never misses a change nor sees one twice, and cannot read another user's changes."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core import signing
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from conftest import ALICE, BOB
from tasks import services
from tasks.changes import Cursor
from tasks.models import Task, TaskChangeCounter

BASE = f"/api/{ALICE}/tasks/"
FEED = f"{BASE}changes/"
ROOT = Path(__file__).resolve().parents[2]


def feed(client: APIClient, cursor: str | None = None, **params: Any) -> dict[str, Any]:
    response = client.get(FEED, {**({"since": cursor} if cursor else {}), **params})
    assert response.status_code == 200, response.json()
    return response.json()


class Replica:
    """A client's copy of the tasks, kept by following the feed."""

    def __init__(self) -> None:
        self.tasks: dict[int, dict[str, Any]] = {}
        self.cursor: str | None = None
        self.seen: list[int] = []

    def sync(self, client: APIClient, limit: int = 100) -> int:
        """Follow the cursors until nothing more; returns how many answers it took."""
        calls = 0
        while True:
            answer = feed(client, self.cursor, limit=limit)
            calls += 1
            assert len(answer["changed"]) + len(answer["deleted"]) <= limit
            for task in answer["changed"]:
                self.tasks[task["id"]] = task
                self.seen.append(task["id"])
            for tombstone in answer["deleted"]:
                self.tasks.pop(tombstone["id"], None)
                self.seen.append(tombstone["id"])
            self.cursor = answer["cursor"]
            if not answer["has_more"]:
                return calls


def server_state(client: APIClient) -> dict[int, dict[str, Any]]:
    return {task["id"]: task for task in client.get(BASE, {"limit": 200}).json()["results"]}


def test_from_nothing_it_gives_every_live_task_and_no_tombstone(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    kept = make_task(title="kept")
    services.tasks_soft_delete(tasks=Task.objects.filter(pk=make_task(title="deleted").pk))

    answer = feed(alice)

    assert [task["id"] for task in answer["changed"]] == [kept.id]
    assert answer["changed"][0] == alice.get(f"{BASE}{kept.id}/").json()
    assert answer["deleted"] == [] and answer["has_more"] is False


def test_it_gives_changes_and_tombstones_since_the_cursor_each_once(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    untouched, changed, deleted = (make_task(title=title) for title in ("untouched", "changed", "deleted"))
    cursor = feed(alice)["cursor"]

    alice.patch(f"{BASE}{changed.id}/", {"title": "changed again"})
    alice.delete(f"{BASE}{deleted.id}/")
    created = alice.post(BASE, {"title": "new"}).json()
    answer = feed(alice, cursor)

    assert [task["title"] for task in answer["changed"]] == ["changed again", "new"]
    deleted.refresh_from_db()
    assert answer["deleted"] == [
        {"id": deleted.id, "deleted_at": deleted.deleted_at.isoformat().replace("+00:00", "Z")}
    ]
    assert untouched.id not in [task["id"] for task in answer["changed"]]
    again = feed(alice, answer["cursor"])
    assert again == {"changed": [], "deleted": [], "cursor": answer["cursor"], "has_more": False}
    assert created["id"] in [task["id"] for task in answer["changed"]]


def test_a_client_builds_if_match_from_a_feed_entry_alone(alice: APIClient, make_task: Callable[..., Task]) -> None:
    task = make_task()
    alice.patch(f"{BASE}{task.id}/", {"title": "Seen by another device"})
    (entry,) = feed(alice)["changed"]
    if_match = f'"{entry["id"]}-{entry["version"]}"'

    first = alice.patch(f"{BASE}{task.id}/", {"title": "Mine"}, HTTP_IF_MATCH=if_match)
    stale = alice.patch(f"{BASE}{task.id}/", {"title": "Mine again"}, HTTP_IF_MATCH=if_match)

    assert first.status_code == 200, first.json()
    assert stale.status_code == 412, stale.json()
    assert alice.get(f"{BASE}{task.id}/").json()["title"] == "Mine"


def test_a_restored_task_comes_back_as_changed(alice: APIClient, make_task: Callable[..., Task]) -> None:
    task = make_task()
    services.task_soft_delete(tasks=Task.objects.filter(pk=task.pk))
    cursor = feed(alice)["cursor"]

    services.tasks_restore(tasks=Task.objects.filter(pk=task.pk))

    assert [change["id"] for change in feed(alice, cursor)["changed"]] == [task.id]


@pytest.mark.parametrize("limit", [1, 3, 100])
def test_following_cursors_ends_with_exactly_the_servers_tasks(
    alice: APIClient, make_task: Callable[..., Task], limit: int
) -> None:
    rng = random.Random(limit)
    tasks = [make_task(title=f"task {n}") for n in range(12)]
    first, second = Replica(), Replica()
    first.sync(alice, limit)
    for step in range(60):
        live = [task for task in tasks if Task.objects.get(pk=task.pk).deleted_at is None]
        action = rng.choice(["create", "update", "complete", "delete", "restore"])
        if action == "create" or not live:
            tasks.append(Task.objects.get(pk=alice.post(BASE, {"title": f"created {step}"}).json()["id"]))
        elif action == "update":
            alice.patch(f"{BASE}{rng.choice(live).id}/", {"title": f"updated {step}"})
        elif action == "complete":
            alice.patch(f"{BASE}{rng.choice(live).id}/complete/")
        elif action == "delete":
            alice.delete(f"{BASE}{rng.choice(live).id}/")
        else:
            services.tasks_restore(tasks=Task.objects.filter(pk=rng.choice(tasks).pk))
        if rng.random() < 0.3:
            first.sync(alice, limit)
    first.sync(alice, limit)
    second.sync(alice, limit)  # from nothing, paging through the same history

    assert first.tasks == second.tasks == server_state(alice)
    assert len(second.seen) == len(set(second.seen))  # nothing twice
    assert feed(alice, first.cursor)["changed"] == []


def test_a_sync_from_nothing_learns_of_a_deletion_made_while_it_pages(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    tasks = [make_task(title=f"task {n}") for n in range(4)]
    page = feed(alice, limit=2)
    assert page["has_more"] is True
    first_seen = page["changed"][0]["id"]

    services.task_soft_delete(tasks=Task.objects.filter(pk=first_seen))
    replica = Replica()
    replica.tasks = {task["id"]: task for task in page["changed"]}
    replica.cursor = page["cursor"]
    replica.sync(alice, limit=2)

    assert set(replica.tasks) == {task.id for task in tasks} - {first_seen}


def test_every_write_path_moves_the_task_past_the_cursor(make_task: Callable[..., Task], alice: APIClient) -> None:
    task = make_task()
    writes: list[Callable[[], Any]] = [
        lambda: services.task_update(tasks=Task.objects.filter(pk=task.pk), title="service"),
        lambda: services.task_set_completed(tasks=Task.objects.filter(pk=task.pk), completed=None),
        lambda: Task.objects.filter(pk=task.pk).update(title="queryset update"),
        lambda: Task.objects.bulk_update([Task(pk=task.pk, title="bulk update", tags=[])], ["title"]),
        lambda: Task.objects.get(pk=task.pk).save(),
    ]
    for write in writes:
        cursor = feed(alice)["cursor"]
        write()
        assert [change["id"] for change in feed(alice, cursor)["changed"]] == [task.id]


@pytest.mark.parametrize(
    "since",
    [
        "not a cursor",
        "",
        Cursor(seq=0).dumps(BOB),  # another user's cursor
        signing.Signer(salt=f"tasks.changes:{ALICE}").sign("[0"),  # signed, but not a cursor
        Cursor(seq=0).dumps(ALICE)[:-1] + "x",  # tampered with
    ],
    ids=["garbage", "empty", "bob's cursor", "signed garbage", "tampered"],
)
def test_a_cursor_not_given_to_this_user_is_a_400_saying_to_start_over(alice: APIClient, since: str) -> None:
    response = alice.get(FEED, {"since": since})

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["attr"], error["code"]) == ("since", "invalid_cursor")
    assert "without since" in error["detail"]


def test_since_given_twice_and_a_bad_limit_are_400s(alice: APIClient) -> None:
    cursor = feed(alice)["cursor"]

    assert alice.get(f"{FEED}?since={cursor}&since={cursor}").json()["errors"][0]["code"] == "repeated"
    assert alice.get(FEED, {"limit": "0"}).json()["errors"][0]["attr"] == "limit"


def test_a_limit_past_the_maximum_is_capped(
    alice: APIClient, make_task: Callable[..., Task], settings: Settings
) -> None:
    settings.API_CHANGES_MAX_PAGE_SIZE = 2
    for _ in range(3):
        make_task()

    answer = feed(alice, limit=1000)

    assert len(answer["changed"]) == 2 and answer["has_more"] is True


def test_bob_sees_none_of_alices_changes_and_cannot_read_her_feed(
    alice: APIClient, bob: APIClient, make_task: Callable[..., Task]
) -> None:
    bobs = make_task(user_id=BOB, title="bob's")
    alices_cursor = feed(alice)["cursor"]
    make_task(title="alice's")

    assert [task["id"] for task in bob.get(f"/api/{BOB}/tasks/changes/").json()["changed"]] == [bobs.id]
    assert bob.get(FEED).status_code == 403
    assert bob.get(FEED, {"since": alices_cursor}).status_code == 403
    # Alice's cursor under Bob's own route is not his.
    assert bob.get(f"/api/{BOB}/tasks/changes/", {"since": alices_cursor}).status_code == 400


def test_anonymous_gets_a_401(anonymous: APIClient) -> None:
    assert anonymous.get(FEED).status_code == 401


def deleted_days_ago(task: Task, days: int) -> None:
    services.task_soft_delete(tasks=Task.objects.filter(pk=task.pk))
    # Raw, as the clock would have done it: the triggers stamp it like any write.
    Task.objects.filter(pk=task.pk).update(deleted_at=timezone.now() - timedelta(days=days))


def test_purge_hard_deletes_only_tasks_deleted_past_the_retention(
    make_task: Callable[..., Task], settings: Settings
) -> None:
    settings.TASK_RETENTION_DAYS = 30
    settings.TASK_PURGE_BATCH_SIZE = 2
    old = [make_task(title=f"old {n}") for n in range(5)]
    for task in old:
        deleted_days_ago(task, 31)
    recent = make_task(title="recent")
    deleted_days_ago(recent, 29)
    bobs_old = make_task(user_id=BOB)
    deleted_days_ago(bobs_old, 40)
    live = [make_task(title="alice live"), make_task(user_id=BOB, title="bob live")]
    newest_old = Task.objects.get(pk=old[-1].pk).change_seq

    call_command("purge_deleted_tasks")

    remaining = set(Task.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, *(task.pk for task in live)}
    # Recent's deletion came after the old ones': the newest purged tombstone is the last old one.
    assert TaskChangeCounter.objects.get(pk=ALICE).purged_seq == newest_old
    assert TaskChangeCounter.objects.get(pk=BOB).purged_seq == TaskChangeCounter.objects.get(pk=BOB).last_seq - 1


def test_a_cursor_older_than_a_purged_tombstone_is_410_and_a_newer_one_is_not(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    task = make_task()
    old_cursor = feed(alice)["cursor"]
    deleted_days_ago(task, 31)
    newer_cursor = feed(alice, old_cursor)["cursor"]  # has seen the tombstone

    call_command("purge_deleted_tasks")

    response = alice.get(FEED, {"since": old_cursor})
    assert response.status_code == 410
    [error] = response.json()["errors"]
    assert error["code"] == "cursor_expired" and "without since" in error["detail"]
    assert feed(alice, newer_cursor)["changed"] == []
    assert alice.get(FEED).status_code == 200  # starting over works


def test_a_task_hard_deleted_by_support_expires_every_cursor_that_saw_it(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    task, other = make_task(), make_task()
    cursor = feed(alice)["cursor"]  # holds the task, live

    services.tasks_purge(tasks=Task.objects.filter(pk=task.pk))

    # No tombstone is left to tell of it: a client that holds the task must start over, and then lacks it.
    assert alice.get(FEED, {"since": cursor}).json()["errors"][0]["code"] == "cursor_expired"
    assert [changed["id"] for changed in feed(alice)["changed"]] == [other.id]


@pytest.mark.parametrize("query", ["limit=abc", "offset=-1", "completed=maybe", "ordering=password"])
def test_a_parameter_that_makes_no_sense_is_a_400_even_for_a_list_the_client_holds(
    alice: APIClient, query: str
) -> None:
    response = alice.get(f"{BASE}?{query}", HTTP_IF_NONE_MATCH="*")

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"] == query.split("=")[0]


def test_list_answers_carry_an_etag_and_an_unchanged_list_is_a_304(
    alice: APIClient, make_task: Callable[..., Task]
) -> None:
    task = make_task()
    etag = alice.get(BASE)["ETag"]

    assert alice.get(BASE, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert alice.get(BASE, {"ordering": "title"}, HTTP_IF_NONE_MATCH=etag).status_code == 200  # another query
    alice.patch(f"{BASE}{task.id}/complete/")
    changed = alice.get(BASE, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert alice.get(BASE, HTTP_IF_NONE_MATCH=changed["ETag"]).status_code == 304


def test_bobs_writes_do_not_change_alices_list_etag(
    alice: APIClient, bob: APIClient, make_task: Callable[..., Task]
) -> None:
    make_task()
    etag = alice.get(BASE)["ETag"]

    bob.post(f"/api/{BOB}/tasks/", {"title": "bob's"})

    assert alice.get(BASE, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert bob.get(f"/api/{BOB}/tasks/", HTTP_IF_NONE_MATCH=etag).status_code == 200


def two_tasks_and_a_cursor(alice: APIClient) -> tuple[Task, Task, str, dict[str, Any]]:
    """Tasks A and B, a cursor past both, and what other connections to the test database need."""
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent transactions on PostgreSQL")
    a, b = (services.task_create(user_id=ALICE, title=title) for title in ("A", "B"))
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return a, b, feed(alice)["cursor"], params


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_after_a_read_by_a_transaction_begun_before_it_is_in_the_next_answer(
    alice: APIClient,
) -> None:
    """The bad order: T1 writes A and stays open; T2 writes B; the client reads; T1 commits, then T2.

    With timestamps or ids the client's first read could show B (committed) and move its cursor past A's
    value, committed later: A would be missed for good. Here T2 waits for T1's counter lock, so the read shows
    neither, and the next shows both, once.
    """
    a, b, cursor, params = two_tasks_and_a_cursor(alice)
    t1, t2 = psycopg.connect(**params), psycopg.connect(**params)
    try:
        t1.execute("UPDATE tasks_task SET title = 'A by T1' WHERE id = %s", [a.pk])
        t2_done = threading.Event()

        def run_t2() -> None:
            t2.execute("UPDATE tasks_task SET title = 'B by T2' WHERE id = %s", [b.pk])
            t2.commit()
            t2_done.set()

        thread = threading.Thread(target=run_t2)
        thread.start()
        waiting = []
        for _ in range(50):  # until T2 waits on the counter's lock
            waiting = t1.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'", [t2.info.backend_pid]
            ).fetchall()
            if waiting:
                break
            threading.Event().wait(0.05)
        assert waiting, "T2 should wait for T1's lock on the change counter"

        during = feed(alice, cursor)
        assert during["changed"] == [] and during["cursor"] == cursor

        t1.commit()
        assert t2_done.wait(10)
        thread.join()
    finally:
        t1.close()
        t2.close()

    after = feed(alice, during["cursor"])
    assert [task["title"] for task in after["changed"]] == ["A by T1", "B by T2"]
    assert feed(alice, after["cursor"])["changed"] == []


@pytest.mark.django_db(transaction=True)
def test_a_read_between_two_commits_sees_the_first_and_the_next_read_only_the_second(alice: APIClient) -> None:
    a, b, cursor, params = two_tasks_and_a_cursor(alice)
    with psycopg.connect(**params) as t1, psycopg.connect(**params) as t2:
        t1.execute("UPDATE tasks_task SET title = 'A by T1' WHERE id = %s", [a.pk])
        t1.commit()
        t2.execute("UPDATE tasks_task SET title = 'B by T2' WHERE id = %s", [b.pk])  # begun, not committed
        middle = feed(alice, cursor)
        t2.commit()
    after = feed(alice, middle["cursor"])

    assert [task["title"] for task in middle["changed"]] == ["A by T1"]
    assert [task["title"] for task in after["changed"]] == ["B by T2"]


SQLITE_SCRIPT = """
import json
from tasks import services
from tasks.changes import changes_since
from tasks.models import Task, TaskChangeCounter
a = services.task_create(user_id="alice", title="A")
b = services.task_create(user_id="alice", title="B")
services.task_create(user_id="bob", title="C")
first = changes_since(user_id="alice", since=None, limit=10)
services.task_update(tasks=Task.objects.filter(pk=a.pk), title="A2")
services.task_set_completed(tasks=Task.objects.filter(pk=b.pk), completed=True)
services.task_soft_delete(tasks=Task.objects.filter(pk=b.pk))
seqs = dict(Task.objects.values_list("title", "change_seq"))
counters = dict(TaskChangeCounter.objects.values_list("user_id", "last_seq"))
print(json.dumps({"first": [t["title"] for t in first["changed"]], "seqs": seqs, "counters": counters}))
"""


def test_the_triggers_number_every_write_on_sqlite_too(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    manage("migrate", "--noinput", "-v0")
    manage("migrate", "tasks", "0005", "--noinput", "-v0")  # the triggers go, reversibly
    manage("migrate", "--noinput", "-v0")
    result = json.loads(manage("shell", "-v0", "-c", SQLITE_SCRIPT).strip().splitlines()[-1])

    assert result["first"] == ["A", "B"]
    # alice: A 1, B 2, then A 3, B 4 (completed) and B 5 (deleted); each write once, in order.
    assert result["seqs"] == {"A2": 3, "B": 5, "C": 1}
    assert result["counters"] == {"alice": 5, "bob": 1}
