"""Two devices of one user edit offline (moves included), send their edits with idempotency keys (retrying answers
they lost), and catch up through the change feed, in any interleaving with other writers: both always end holding
exactly the server's live tasks, no create ever runs twice, and another user's tasks never reach them.

A device holds what the server told it (answers to its own writes, and the feed), never a guess of its own: so
what it ends with is what the routes gave it, and a missed or repeated change shows.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from conftest import client_for
from tasks import services
from tasks.models import Task

pytestmark = pytest.mark.reliability

# Each example is some dozens of in-process requests.
EXAMPLES = 100 if os.environ.get("CI") else 60
# pytest-django's db fixture is function-scoped: every example shares its transaction, so each example has users
# of its own (fresh ids) instead of relying on a fresh database. No shrinking: an example is a sequence of steps
# drawn one by one, which Hypothesis shrinks slowly; with a broken feed it spent its five minutes and gave back the
# example it started from. The failing example is printed step by step (each draw labelled) as found.
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MAX_STEPS = 25

# Stale edits: the task changed (412) or is gone (404) since the device last heard of it. A client drops the edit,
# as it would after refetching the task; anything else would be the API's fault, or this test's.
STALE = {404, 412}
# What each operation answers when it succeeds.
SUCCESS = {
    "create": 201,
    "update": 200,
    "partial_update": 200,
    "complete": 200,
    "delete": 204,
    "restore": 200,
    "move": 200,
}
# The single request of each operation: method and path after the task's URL.
SINGLE = {
    "update": ("PUT", ""),
    "partial_update": ("PATCH", ""),
    "complete": ("PATCH", "complete/"),
    "delete": ("DELETE", ""),
    "restore": ("POST", "restore/"),
    "move": ("POST", "move/"),
}
# A move next to a task that is not in that list any more (deleted, or moved elsewhere since the device heard of it):
# a 400 naming the neighbour, dropped like a stale edit.
GONE_NEIGHBOUR = "not_a_sibling"
NEIGHBOURS = ("before", "after")

titles = st.sampled_from(["Buy milk", "Call mum", "Pay rent", "Water the plants", "Book flights"])
fields = {
    "title": titles,
    "description": st.sampled_from(["", "soon", "after lunch"]),
    "completed": st.booleans(),
    "priority": st.sampled_from(["low", "medium", "high"]),
    "tags": st.lists(st.sampled_from(["work", "home", "errand"]), max_size=2, unique=True),
}
full_bodies = st.fixed_dictionaries(fields)
partial_bodies = st.fixed_dictionaries({}, optional=fields)
creations = st.fixed_dictionaries({"title": titles}, optional={k: v for k, v in fields.items() if k != "title"})
completions = st.sampled_from([{}, {"completed": True}, {"completed": False}])


def new_key() -> str:
    return str(uuid.uuid4())


@dataclass
class Edit:
    """One edit a device made offline. ``target`` is a task id, or the name of a task the device created offline
    and has not heard back about yet (the ``ref`` of its create)."""

    op: str
    key: str
    target: int | str | None = None
    data: dict[str, Any] | None = None
    if_match: str | None = None


@dataclass
class Device:
    user_id: str
    client: APIClient
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    # The ETag of the representation held, when an answer to one of its writes said it: the feed does not.
    etags: dict[int, str] = field(default_factory=dict)
    trash: set[int] = field(default_factory=set)
    cursor: str | None = None
    queue: list[Edit] = field(default_factory=list)
    # The task each of its offline creates became, and the creates refused (their parent gone meanwhile).
    created: dict[str, int] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)
    names: int = 0

    @property
    def base(self) -> str:
        return f"/api/{self.user_id}/tasks/"

    def hold(self, task: dict[str, Any], etag: str | None) -> None:
        assert task["user_id"] == self.user_id, task
        self.tasks[task["id"]] = task
        self.trash.discard(task["id"])
        if etag is None:
            self.etags.pop(task["id"], None)
        else:
            self.etags[task["id"]] = etag

    def forget(self, task_id: int) -> None:
        self.tasks.pop(task_id, None)
        self.etags.pop(task_id, None)
        self.trash.add(task_id)

    def apply(self, edit: Edit, status: int, body: Any, etag: str | None) -> None:
        """What the answer to one of its edits tells the device."""
        if status in STALE and edit.op != "create":
            event(f"stale {edit.op}: {status}")
            return  # dropped
        if gone_neighbour(status, body, edit):
            event("move next to a task no longer there")
            return  # dropped
        if misplaced(status, body, edit):
            event(f"{edit.op} under a parent refused: {body['errors'][0]['code']}")
            if edit.op == "create":
                self.refused.add(edit.target)  # type: ignore[arg-type]
            return  # dropped too: the parent is gone, or the tasks moved meanwhile
        if status == 424 and self.depends_on_refused(edit):
            return  # in the same batch as the refused create it names
        assert status == SUCCESS[edit.op], (edit, status, body)
        if (edit.data or {}).get("parent_id") is not None:
            event(f"{edit.op} under a task")
        if edit.op == "move":
            event("moved")
        if edit.op == "delete":
            self.forget(self.resolve(edit.target))
            return
        self.hold(body, etag)
        if edit.op == "create":
            assert isinstance(edit.target, str)
            self.created[edit.target] = body["id"]

    def depends_on_refused(self, edit: Edit) -> bool:
        """The edit names a task its create never made, as its target, its parent or its neighbour: dropped, as the
        create was."""
        named = [(edit.data or {}).get(name) for name in ("parent_id", *NEIGHBOURS)]
        return bool({edit.target, *named} & self.refused)

    def body(self, edit: Edit, in_batch: set[str] | None = None) -> dict[str, Any] | None:
        """The edit's body as sent: a parent or a neighbour it created offline named by its ref in the batch that
        creates it, else by the id it became."""
        if edit.data is None:
            return None
        named = [name for name in ("parent_id", *NEIGHBOURS) if isinstance(edit.data.get(name), str)]
        refs = {name: edit.data[name] for name in named}
        return {
            **edit.data,
            **{name: f"$ref:{ref}" if ref in (in_batch or ()) else self.resolve(ref) for name, ref in refs.items()},
        }

    def parent_of(self, target: int | str) -> int | str | None:
        """The parent of a task it holds, or of one it created offline, as it last heard."""
        if isinstance(target, int):
            return self.tasks[target]["parent_id"]
        create = next(edit for edit in self.queue if edit.op == "create" and edit.target == target)
        return (create.data or {}).get("parent_id")

    def resolve(self, target: int | str | None) -> int:
        return self.created[target] if isinstance(target, str) else target  # type: ignore[return-value]

    def sync(self, limit: int) -> None:
        """Follow the feed's cursors until it has nothing more. A sync from nothing replaces what the device held (its
        answers to writes it sent before it ever synced): tasks deleted since are in no answer of it."""
        fresh, sent = self.cursor is None, set()
        while True:
            response = self.client.get(
                f"{self.base}changes/", {**({"since": self.cursor} if self.cursor else {}), "limit": limit}
            )
            assert response.status_code == 200, response.content
            answer = response.json()
            assert len(answer["changed"]) + len(answer["deleted"]) <= limit
            for task in answer["changed"]:
                # Kept only if it is what the device holds already, by an answer that gave its ETag.
                same = self.tasks.get(task["id"]) == task
                self.hold(task, self.etags.get(task["id"]) if same else None)
                sent.add(task["id"])
            for tombstone in answer["deleted"]:
                self.forget(tombstone["id"])
            self.cursor = answer["cursor"]
            if not answer["has_more"]:
                for task_id in set(self.tasks) - sent if fresh else ():
                    self.forget(task_id)
                return


def gone_neighbour(status: int, body: Any, edit: Edit) -> bool:
    return edit.op == "move" and status == 400 and body["errors"][0]["code"] == GONE_NEIGHBOUR


def misplaced(status: int, body: Any, edit: Edit) -> bool:
    """A move the tree's rules refused (tasks/tree.py): its parent deleted, or other moves since made it a cycle or too
    deep. Only a move's parent_id can be refused so."""
    if status != 400 or "parent_id" not in (edit.data or {}):
        return False
    return all(error["attr"].endswith("parent_id") for error in body["errors"])


def attempt(data: st.DataObject, send: Any) -> Any:
    """Send a request, then again 0 to 2 times with the same key, as a client that lost the answers would: every
    attempt gets the first one's answer, the retries marked as replays. The last answer is the one heard."""
    first = send()
    assert "Idempotent-Replayed" not in first.headers, first.content
    answer = first
    for _ in range(data.draw(st.integers(0, 2), label="retries")):
        answer = send()
        assert answer.headers.get("Idempotent-Replayed") == "true", (answer.status_code, answer.content)
        assert (answer.status_code, answer.content) == (first.status_code, first.content)
        assert answer.headers.get("ETag") == first.headers.get("ETag")
        assert answer.headers.get("Location") == first.headers.get("Location")
    return answer


def body_of(response: Any) -> Any:
    return response.json() if response.content else None


def send_one(data: st.DataObject, device: Device, edit: Edit) -> None:
    if device.depends_on_refused(edit):
        return
    if edit.op == "create":
        response = attempt(
            data, lambda: device.client.post(device.base, edit.data, format="json", HTTP_IDEMPOTENCY_KEY=edit.key)
        )
    else:
        method, action = SINGLE[edit.op]
        url = f"{device.base}{device.resolve(edit.target)}/{action}"
        headers = {"HTTP_IDEMPOTENCY_KEY": edit.key, **({"HTTP_IF_MATCH": edit.if_match} if edit.if_match else {})}
        response = attempt(
            data,
            lambda: device.client.generic(method, url, *json_body(device.body(edit)), **headers),  # type: ignore[arg-type]
        )
    device.apply(edit, response.status_code, body_of(response), response.headers.get("ETag"))


def json_body(body: dict[str, Any] | None) -> tuple[str, str] | tuple[()]:
    return () if body is None else (json.dumps(body), "application/json")


def operation(device: Device, edit: Edit, in_batch: set[str]) -> dict[str, Any]:
    op: dict[str, Any] = {"op": edit.op}
    if edit.op == "create":
        op["ref"] = edit.target
    elif isinstance(edit.target, str) and edit.target in in_batch:
        op["id"] = f"$ref:{edit.target}"
    else:
        op["id"] = device.resolve(edit.target)
    if edit.data is not None:
        op["data"] = device.body(edit, in_batch)
    if edit.if_match is not None:
        op["if_match"] = edit.if_match
    return op


def send_batch(data: st.DataObject, device: Device, edits: list[Edit], atomic: bool) -> None:
    """The edits as one batch with one key. An atomic batch that fails on a stale edit changed nothing: the
    device drops that edit and sends the rest, a new request with a new key."""
    while edits := [edit for edit in edits if not device.depends_on_refused(edit)]:
        in_batch = {edit.target for edit in edits if edit.op == "create"}
        body = {"operations": [operation(device, edit, in_batch) for edit in edits], "atomic": atomic}  # type: ignore[arg-type]
        key = new_key()
        response = attempt(
            data,
            lambda body=body, key=key: device.client.post(
                f"{device.base}batch/", body, format="json", HTTP_IDEMPOTENCY_KEY=key
            ),
        )
        if atomic and response.status_code in {*STALE, 400}:
            [error] = response.json()["errors"]
            index = int(error["attr"].split(".")[1])
            if response.status_code == 400 or edits[index].op == "create":
                refused = misplaced(400, response.json(), edits[index])
                assert refused or gone_neighbour(400, response.json(), edits[index]), response.content
                device.apply(edits[index], 400, response.json(), None)
            del edits[index]
            continue
        assert response.status_code == 200, response.content
        results = response.json()["results"]
        assert len(results) == len(edits)
        for edit, result in zip(edits, results, strict=True):
            assert result["ref"] == (edit.target if edit.op == "create" else None)
            device.apply(edit, result["status"], result["body"], result["etag"])
        return


def go_online(data: st.DataObject, device: Device) -> None:
    edits, device.queue = device.queue, []
    mode = data.draw(st.sampled_from(["one by one", "batch", "atomic batch"]), label="send as")
    if mode == "one by one":
        for edit in edits:
            send_one(data, device, edit)
    else:
        send_batch(data, device, edits, atomic=mode == "atomic batch")


def edit_offline(data: st.DataObject, device: Device) -> Edit:
    """An edit of what the device holds (or has created offline), with If-Match of what it holds when it knows."""
    pending = [edit.target for edit in device.queue if edit.op == "create"]
    targets: list[int | str] = [*sorted(device.tasks), *pending]
    ops = ["create", *(["update", "partial_update", "complete", "delete", "reparent", "reparent"] if targets else [])]
    ops += ["restore"] if device.trash else []
    # Twice as likely as another edit: a device has two tasks to order only once it has synced or created them.
    ops += ["move", "move"] if len(targets) > 1 else []
    op = data.draw(st.sampled_from(ops), label="edit")
    edit = Edit(op=op, key=new_key())
    if op == "create":
        device.names += 1
        edit.target, edit.data = f"new{device.names}", data.draw(creations, label="new task")
        if device.tasks and data.draw(st.booleans(), label="subtask"):
            parent = data.draw(st.sampled_from(sorted(device.tasks, reverse=True)), label="parent")
            edit.data = {**edit.data, "parent_id": parent}
        return edit
    if op == "restore":
        edit.target = data.draw(st.sampled_from(sorted(device.trash)), label="restore")
        return edit
    edit.target = data.draw(st.sampled_from(targets), label="task")
    if op == "move":
        # Right before or after another task, in that task's list as the device knows it: the move says its parent.
        neighbour = data.draw(st.sampled_from([t for t in targets if t != edit.target]), label="next to")
        side = data.draw(st.sampled_from(NEIGHBOURS), label="side")
        edit.data = {side: neighbour, "parent_id": device.parent_of(neighbour)}
        return edit
    if op == "reparent":
        # Under a task it holds or created offline, or to the top level: a partial update of parent_id alone.
        edit.op = "partial_update"
        others = [target for target in reversed(targets) if target != edit.target]  # the newest first
        parent = data.draw(st.sampled_from([*others, None]), label="parent")
        edit.data = {"parent_id": parent}
        return edit
    edit.data = {
        "update": lambda: data.draw(full_bodies, label="put"),
        "partial_update": lambda: data.draw(partial_bodies, label="patch"),
        "complete": lambda: data.draw(completions, label="complete"),
        "delete": lambda: None,
    }[op]()
    etag = device.etags.get(edit.target) if isinstance(edit.target, int) else None
    if etag is not None and data.draw(st.booleans(), label="if-match"):
        edit.if_match = etag
    return edit


@dataclass
class Elsewhere:
    """Writes the devices do not make: the user's web tab (no keys), support staff (the services), and another
    user, who reuses the devices' idempotency keys."""

    user_id: str
    web: APIClient
    other_id: str
    other: APIClient
    creates: int = 0
    other_tasks: set[int] = field(default_factory=set)
    other_keys: set[str] = field(default_factory=set)

    def write(self, data: st.DataObject, keys: list[str]) -> None:
        base = f"/api/{self.user_id}/tasks/"
        mine = Task.objects.filter(user_id=self.user_id)
        live = sorted(mine.filter(deleted_at__isnull=True).values_list("id", flat=True))
        deleted = sorted(mine.filter(deleted_at__isnull=False).values_list("id", flat=True))
        choices = ["create", "other user", *(["patch", "complete", "delete"] if live else [])]
        choices += ["restore"] if deleted else []
        lists: dict[int | None, list[int]] = {}
        for task, parent in mine.filter(deleted_at__isnull=True).order_by("id").values_list("id", "parent_id"):
            lists.setdefault(parent, []).append(task)
        siblings = [tasks for tasks in lists.values() if len(tasks) > 1]
        choices += ["move"] if siblings else []
        what = data.draw(st.sampled_from(choices), label="elsewhere")
        if what == "create":
            response = self.web.post(base, data.draw(creations, label="web task"), format="json")
            assert response.status_code == 201, response.content
            self.creates += 1
        elif what == "patch":
            task = data.draw(st.sampled_from(live), label="web patch")
            response = self.web.patch(f"{base}{task}/", data.draw(partial_bodies, label="web body"), format="json")
            assert response.status_code == 200, response.content
        elif what == "complete":
            response = self.web.patch(f"{base}{data.draw(st.sampled_from(live), label='web complete')}/complete/")
            assert response.status_code == 200, response.content
        elif what == "delete":
            response = self.web.delete(f"{base}{data.draw(st.sampled_from(live), label='web delete')}/")
            assert response.status_code == 204, response.content
        elif what == "restore":
            task = data.draw(st.sampled_from(deleted), label="staff restore")
            assert services.tasks_restore(tasks=Task.objects.filter(pk=task))
        elif what == "move":
            task, neighbour = data.draw(st.permutations(data.draw(st.sampled_from(siblings), label="list")))[:2]
            side = data.draw(st.sampled_from(NEIGHBOURS), label="web side")
            response = self.web.post(f"{base}{task}/move/", {side: neighbour}, format="json")
            assert response.status_code == 200, response.content
        else:
            self.other_write(data, keys)

    def other_write(self, data: st.DataObject, keys: list[str]) -> None:
        base = f"/api/{self.other_id}/tasks/"
        if self.other_tasks and data.draw(st.booleans(), label="other edits"):
            task = data.draw(st.sampled_from(sorted(self.other_tasks)), label="other task")
            response = self.other.patch(f"{base}{task}/complete/", HTTP_IDEMPOTENCY_KEY=new_key())
            assert response.status_code == 200, response.content
            return
        # One of the devices' keys, each once: this user's own second use of a key would rightly replay.
        unused = [key for key in keys if key not in self.other_keys]
        key = data.draw(st.sampled_from(unused), label="reused key") if unused else new_key()
        self.other_keys.add(key)
        response = self.other.post(
            base, data.draw(creations, label="other task"), format="json", HTTP_IDEMPOTENCY_KEY=key
        )
        # Never the devices' answer: keys are per user.
        assert response.status_code == 201, response.content
        assert "Idempotent-Replayed" not in response.headers
        assert response.json()["user_id"] == self.other_id
        self.other_tasks.add(response.json()["id"])


def live_tasks(client: APIClient, user_id: str) -> dict[int, dict[str, Any]]:
    """The user's live tasks, as the list gives them, every page."""
    tasks: dict[int, dict[str, Any]] = {}
    url: str | None = f"/api/{user_id}/tasks/?limit=7"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        page = response.json()
        tasks.update((task["id"], task) for task in page["results"])
        url = page["next"]
    return tasks


@PROPERTY
@given(data=st.data())
def test_two_devices_that_edit_offline_replay_and_sync_converge_to_the_server_without_duplicates(
    db: None, data: st.DataObject
) -> None:
    cache.clear()  # throttle counts: each example is a fresh day of use
    user_id, other_id = f"alice-{uuid.uuid4()}", f"mallory-{uuid.uuid4()}"
    devices = [Device(user_id, client_for(user_id)), Device(user_id, client_for(user_id))]
    elsewhere = Elsewhere(user_id, client_for(user_id), other_id, client_for(other_id))
    keys: list[str] = []  # every key the devices used
    # Tasks from before, made in the web tab, which a device holds if it synced since: something to edit and order.
    for n in range(3):
        assert elsewhere.web.post(f"/api/{user_id}/tasks/", {"title": f"earlier {n}"}).status_code == 201
        elsewhere.creates += 1
    for device in devices:
        if data.draw(st.booleans(), label="synced before"):
            device.sync(4)

    for _ in range(data.draw(st.integers(1, MAX_STEPS), label="steps")):
        step = data.draw(st.sampled_from(["edit", "edit", "online", "sync", "elsewhere"]), label="step")
        device = devices[data.draw(st.integers(0, 1), label="device")]
        if step == "edit":
            device.queue.append(edit_offline(data, device))
            keys.append(device.queue[-1].key)
        elif step == "online":
            go_online(data, device)
        elif step == "sync":
            device.sync(data.draw(st.integers(1, 4), label="limit"))
        else:
            elsewhere.write(data, keys)
    for device in devices:
        device.sync(data.draw(st.integers(1, 4), label="limit"))

    server = live_tasks(elsewhere.web, user_id)
    assert {task.id for task in Task.objects.filter(user_id=user_id, deleted_at__isnull=True)} == set(server)
    for device in devices:
        assert device.tasks == server
        assert not set(device.tasks) & elsewhere.other_tasks
    # Every create the devices heard back about ran once, whatever the retries; no other create ran.
    created = [task for device in devices for task in device.created.values()]
    assert len(created) == len(set(created))
    assert Task.objects.filter(user_id=user_id).count() == len(created) + elsewhere.creates
    assert Task.objects.filter(user_id=other_id).count() == len(elsewhere.other_tasks)
