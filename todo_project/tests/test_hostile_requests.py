"""Hostile requests through the real server stack (nginx, gunicorn, PostgreSQL, debug off): each gets the status the
contract promises, a JSON answer, nothing of another user's, and another user's tasks never change."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import psycopg
import pytest
from django.conf import settings

from authjwt.tokens import mint_token
from todo_project.tests.servers import Client, Response, Server, serve

pytestmark = pytest.mark.reliability

ME = f"mallory-{uuid.uuid4().hex[:8]}"
VICTIM = f"victim-{uuid.uuid4().hex[:8]}"
# In every one of the victim's tasks, and so in any answer that leaks one.
SECRET = "victim's secret plan"
OTHER_SECRET = "another-secret-that-is-long-enough-0123456789abcdef"
THREE_MB = b'{"title": "' + b"x" * 3_000_000 + b'"}'
BATCH = "/api/{me}/tasks/batch/"
# A batch may be up to 1 MiB (API_MAX_BATCH_BODY): these go past the edge's bound for it, and past the operations'.
TWO_MB_BATCH = b'{"operations": [{"op": "create", "data": {"title": "' + b"x" * 2_000_000 + b'"}}]}'
MANY_OPERATIONS = b'{"operations": [' + b",".join([b'{"op": "create", "data": {"title": "x"}}'] * 101) + b"]}"
DEEP_BATCH = b'{"operations": [{"op": "create", "data": ' + b"[" * 200_000 + b"]" * 200_000 + b"}]}"
VICTIMS_BATCH = (
    b'{"operations": ['
    b'{"op": "update", "id": {victim_task}, "data": {"title": "pwned"}},'
    b'{"op": "partial_update", "id": {victim_task}, "data": {"title": "pwned"}},'
    b'{"op": "complete", "id": {victim_task}},'
    b'{"op": "delete", "id": {victim_task}},'
    b'{"op": "restore", "id": {victim_deleted_task}},'
    b'{"op": "move", "id": {victim_task}, "data": {"before": {victim_task}}}]}'
)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    """Claims of a valid token for ME; ``...`` removes a claim."""
    now = int(time.time())
    return {
        key: value for key, value in ({"sub": ME, "iat": now, "exp": now + 600} | overrides).items() if value is not ...
    }


def signed(payload: dict[str, Any], *, key: str | None = None, algorithm: str = "HS256") -> str:
    return "Bearer " + jwt.encode(payload, key or settings.BETTER_AUTH_SECRET, algorithm=algorithm)


def unsigned(alg: str) -> str:
    return f"Bearer {b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims())}."


def tampered() -> str:
    header, _, signature = signed(claims()).removeprefix("Bearer ").split(".")
    return f"Bearer {header}.{b64(claims(sub=VICTIM))}.{signature}"


def chunks(body: bytes, size: int = 65_536) -> Iterator[bytes]:
    return (body[start : start + size] for start in range(0, len(body), size))


@dataclass
class Hostile:
    name: str
    method: str
    # {me}, {victim}, {my_task}, {victim_task} and {victim_deleted_task} are filled in when the request is sent.
    path: str
    status: int
    code: str | None = None
    # Made when sent, so that no token expires while the suite runs; "mine" is a valid token for ME.
    authorization: Callable[[], str] | str | None = "mine"
    body: bytes | None = None
    content_type: str = "application/json"
    chunked: bool = False
    attr: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


ROUTES = [
    ("GET", "/api/{user}/tasks/"),
    ("POST", "/api/{user}/tasks/"),
    ("GET", "/api/{user}/tasks/{task}/"),
    ("PUT", "/api/{user}/tasks/{task}/"),
    ("PATCH", "/api/{user}/tasks/{task}/"),
    ("DELETE", "/api/{user}/tasks/{task}/"),
    ("PATCH", "/api/{user}/tasks/{task}/complete/"),
    ("POST", "/api/{user}/tasks/{task}/restore/"),
    ("POST", "/api/{user}/tasks/{task}/move/"),
]
TAKEOVER = b'{"title": "pwned", "completed": true}'
COMPLETION = b'{"completed": true}'
MOVE = b'{"before": 1}'
LIST = "/api/{me}/tasks/"
MINE = "/api/{me}/tasks/{my_task}/"
MOVE_MINE = f"{MINE}move/"


def body_taken(method: str, path: str) -> bytes | None:
    """A body the route takes: …/complete/ takes only "completed", and …/move/ a neighbour; either would refuse another
    body before the task is looked for."""
    if path.endswith("/complete/"):
        return COMPLETION
    if path.endswith("/move/"):
        return MOVE
    return TAKEOVER if method in ("PUT", "PATCH") else None


def token(name: str, authorization: Callable[[], str] | None, code: str = "token_invalid") -> Hostile:
    return Hostile(name, "GET", LIST, 401, code, authorization=authorization)


def query(name: str, parameters: str, status: int = 400, attr: str | None = None) -> Hostile:
    return Hostile(name, "GET", f"{LIST}?{parameters}", status, attr=attr)


# What a parent_id gets that names no task of the caller's, another user's included.
NO_SUCH_PARENT = (400, "does_not_exist", "parent_id")


def body(name: str, payload: bytes, status: int, code: str, attr: str | None = None, **options: Any) -> Hostile:
    return Hostile(
        name, options.pop("method", "POST"), options.pop("path", LIST), status, code, body=payload, attr=attr, **options
    )


TABLE = [
    # Tokens: every one refused with a 401 and the code that says why.
    token("signed with another secret", lambda: signed(claims(), key=OTHER_SECRET)),
    *(token(f"alg {alg}", lambda alg=alg: unsigned(alg)) for alg in ("none", "None", "NONE", "nOnE")),
    token("hs512 with the right secret", lambda: signed(claims(), algorithm="HS512")),
    token("hs384 with the right secret", lambda: signed(claims(), algorithm="HS384")),
    token("expired", lambda: signed(claims(exp=int(time.time()) - 3600)), code="token_expired"),
    token("not yet valid", lambda: signed(claims(nbf=int(time.time()) + 3600))),
    token("issued in the future", lambda: signed(claims(iat=int(time.time()) + 3600))),
    token("without exp", lambda: signed(claims(exp=...))),
    token("exp not a number", lambda: signed(claims(exp="tomorrow"))),
    token("without sub", lambda: signed(claims(sub=...))),
    token("empty sub", lambda: signed(claims(sub=""))),
    token("numeric sub", lambda: signed(claims(sub=42))),
    token("null sub", lambda: signed(claims(sub=None))),
    token("object sub", lambda: signed(claims(sub={"id": ME}))),
    token("tampered payload naming the victim", tampered),
    token("truncated", lambda: signed(claims())[:-12]),
    token("signature stripped", lambda: signed(claims()).rsplit(".", 1)[0] + "."),
    # Past the edge's 8 KiB per header: refused there, before any authentication.
    Hostile(
        "a 60 KB header", "GET", LIST, 431, "request_headers_too_large", authorization=lambda: "Bearer " + "a" * 60_000
    ),
    token("two tokens", lambda: f"{signed(claims())} {signed(claims())}"),
    token("basic scheme", lambda: "Basic " + base64.b64encode(f"{ME}:pw".encode()).decode(), "not_authenticated"),
    token("token scheme", lambda: "Token " + mint_token(ME), "not_authenticated"),
    token("no authorization header", None, "not_authenticated"),
    Hostile("token in the query string", "GET", LIST + "?token={token}", 401, "not_authenticated", None),
    Hostile("access_token in the query string", "GET", LIST + "?access_token={token}", 401, "not_authenticated", None),
    # The victim's routes with my token: forbidden, whatever the method.
    *(
        Hostile(
            f"{method} the victim's path",
            method,
            path.format(user="{victim}", task="{victim_task}"),
            403,
            "permission_denied",
            body=TAKEOVER if method in ("POST", "PUT", "PATCH") else None,
        )
        for method, path in ROUTES
    ),
    # The victim's task ids under my own path: not found, as if they did not exist.
    *(
        Hostile(
            f"{method} the victim's task {path.rsplit('}', 1)[1]}",
            method,
            path.format(user="{me}", task="{victim_task}"),
            404,
            "not_found",
            body=body_taken(method, path),
        )
        for method, path in ROUTES
        if "{task}" in path
    ),
    # The victim's trash: neither listed nor restored, under either path.
    Hostile("list the victim's trash", "GET", "/api/{victim}/tasks/?deleted=true", 403, "permission_denied"),
    Hostile(
        "restore the victim's deleted task",
        "POST",
        "/api/{victim}/tasks/{victim_deleted_task}/restore/",
        403,
        "permission_denied",
    ),
    Hostile(
        "restore the victim's deleted task under my path",
        "POST",
        "/api/{me}/tasks/{victim_deleted_task}/restore/",
        404,
        "not_found",
        headers={"If-Match": "*"},
    ),
    # My task next to the victim's: the same 400 as next to a task that does not exist, and nothing moves.
    body(
        "move mine before the victim's task",
        b'{"before": {victim_task}}',
        400,
        "not_a_sibling",
        "before",
        path=MOVE_MINE,
    ),
    body(
        "move mine after the victim's deleted task",
        b'{"after": {victim_deleted_task}}',
        400,
        "not_a_sibling",
        "after",
        path=MOVE_MINE,
    ),
    Hostile(
        "DELETE the victim's task with If-Match: *",
        "DELETE",
        "/api/{me}/tasks/{victim_task}/",
        404,
        "not_found",
        headers={"If-Match": "*"},
    ),
    # Bodies.
    body("a NUL character in a title", b'{"title": "a\\u0000b"}', 400, "null_characters_not_allowed", "title"),
    body("a raw NUL byte in the JSON", b'{"title": "a\x00b"}', 400, "parse_error"),
    body("3 MB to create", THREE_MB, 413, "request_too_large"),
    body("3 MB to replace", THREE_MB, 413, "request_too_large", method="PUT", path=MINE),
    body("3 MB to patch", THREE_MB, 413, "request_too_large", method="PATCH", path=MINE),
    body("3 MB chunked", THREE_MB, 413, "request_too_large", chunked=True),
    body("a 2 MB batch", TWO_MB_BATCH, 413, "request_too_large", path=BATCH),
    body("a 2 MB batch, chunked", TWO_MB_BATCH, 413, "request_too_large", path=BATCH, chunked=True),
    body("a batch of 101 operations", MANY_OPERATIONS, 400, "max_length", "operations.non_field_errors", path=BATCH),
    body("a batch nested 200,000 deep", DEEP_BATCH, 400, "parse_error", path=BATCH),
    # Each operation a 404 that tells nothing; the victim's tasks are unchanged (checked after the table).
    body("a batch writing the victim's tasks", VICTIMS_BATCH, 200, None, path=BATCH),
    body("invalid JSON", b'{"title": "unterminated', 400, "parse_error"),
    body("NaN", b'{"title": NaN}', 400, "parse_error"),
    body("not UTF-8", b'{"title": "\xff\xfe"}', 400, "parse_error"),
    body("deep nesting", b"[" * 10_000 + b"]" * 10_000, 400, "parse_error"),
    body("a JSON array", b'[{"title": "in an array"}]', 400, "invalid"),
    body("a JSON string", b'"just a string"', 400, "invalid"),
    body(
        "form-encoded", b"title=form", 415, "unsupported_media_type", content_type="application/x-www-form-urlencoded"
    ),
    body(
        "multipart",
        b"--b\r\n\r\nx\r\n--b--",
        415,
        "unsupported_media_type",
        content_type="multipart/form-data; boundary=b",
    ),
    body("plain text", b'{"title": "x"}', 415, "unsupported_media_type", content_type="text/plain"),
    body("XML", b"<task><title>x</title></task>", 415, "unsupported_media_type", content_type="application/xml"),
    body("a number for the title", b'{"title": 42}', 400, "invalid", "title"),
    body("an object for the title", b'{"title": {"text": "x"}}', 400, "invalid", "title"),
    body("a number for the description", b'{"title": "x", "description": 7}', 400, "invalid", "description"),
    body('"true" for completed', b'{"title": "x", "completed": "true"}', 400, "invalid", "completed"),
    body("a number for the priority", b'{"title": "x", "priority": 3}', 400, "invalid_choice", "priority"),
    body("an object for the due date", b'{"title": "x", "due_date": {"day": 1}}', 400, "invalid", "due_date"),
    body("a string for the tags", b'{"title": "x", "tags": "work"}', 400, "not_a_list", "tags"),
    body("an owner in the body", b'{"completed": true, "user_id": "{victim}"}', 200, None, method="PATCH", path=MINE),
    # Subtasks: another user's task as a parent is no task at all (the same 400 as an id nobody has).
    body("a subtask of the victim's task", b'{"title": "x", "parent_id": {victim_task}}', *NO_SUCH_PARENT),
    body(
        "a subtask of the victim's deleted task",
        b'{"title": "x", "parent_id": {victim_deleted_task}}',
        *NO_SUCH_PARENT,
    ),
    body(
        "my task moved under the victim's",
        b'{"parent_id": {victim_task}}',
        *NO_SUCH_PARENT,
        method="PATCH",
        path=MINE,
    ),
    body("a 30-digit parent id", b'{"title": "x", "parent_id": ' + b"9" * 30 + b"}", *NO_SUCH_PARENT),
    body("my task under itself", b'{"parent_id": {my_task}}', 400, "cycle", "parent_id", method="PATCH", path=MINE),
    # Recurrence rules: only what RFC 5545 says and a bounded expansion takes (todo_project/tests/test_costs.py
    # times the costliest ones that are taken).
    *(
        body(name, b'{"title": "x", "recurrence": "%s"}' % rule, 400, code, "recurrence")
        for name, rule, code in [
            ("a rule every second", b"FREQ=SECONDLY", "invalid_rule"),
            ("a rule every minute", b"FREQ=MINUTELY;INTERVAL=1", "invalid_rule"),
            ("a rule with its own DTSTART", b"DTSTART:19700101T000000Z\\nRRULE:FREQ=DAILY", "invalid_rule"),
            ("a rule with a floating UNTIL", b"FREQ=DAILY;UNTIL=20301231T235959", "invalid_rule"),
            ("a rule with COUNT in the millions", b"FREQ=DAILY;COUNT=5000000", "invalid_rule"),
            ("a rule with a huge INTERVAL", b"FREQ=DAILY;INTERVAL=1000000000", "invalid_rule"),
            ("a rule with a part twice", b"FREQ=DAILY;FREQ=YEARLY", "invalid_rule"),
            ("a rule of SQL", b"FREQ=DAILY'; DROP TABLE tasks_task; --", "invalid_rule"),
            ("a rule of 10,000 characters", b"FREQ=DAILY;BYHOUR=" + b"1," * 5000 + b"1", "max_length"),
        ]
    ),
    body("a rule in an array", b'{"title": "x", "recurrence": ["FREQ=DAILY"]}', 400, "invalid", "recurrence"),
    body(
        "a zone that is a path",
        b'{"title": "x", "timezone": "../../../etc/passwd"}',
        400,
        "invalid_time_zone",
        "timezone",
    ),
    body("a zone that is an offset", b'{"title": "x", "timezone": "+02:00"}', 400, "invalid_time_zone", "timezone"),
    body(
        "a rule that never matches, taken",
        b'{"title": "x", "due_date": "2030-01-01T09:00:00Z", "recurrence": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"}',
        201,
        None,
    ),
    # Ids, paging and filters.
    Hostile("a huge task id", "GET", "/api/{me}/tasks/99999999999999999999999999/", 404, "not_found"),
    Hostile("a negative task id", "GET", "/api/{me}/tasks/-1/", 404, "not_found"),
    Hostile("a non-numeric task id", "PATCH", "/api/{me}/tasks/abc/complete/", 404, "not_found"),
    # The edge refuses a path holding a NUL (once decoded) as malformed.
    Hostile("a NUL task id", "DELETE", "/api/{me}/tasks/%00/", 400, "malformed_request"),
    Hostile("a NUL in the path user", "GET", "/api/{me}%00/tasks/", 400, "malformed_request"),
    query("limit=abc", "limit=abc", attr="limit"),
    query("limit=-1", "limit=-1", attr="limit"),
    query("limit=1e3", "limit=1e3", attr="limit"),
    query("a 30-digit limit, capped", "limit=" + "9" * 30, status=200),
    query("offset=-1", "offset=-1", attr="offset"),
    query("a 30-digit offset, an empty page", "offset=" + "9" * 30, status=200),
    query("an enormous offset", "offset=9223372036854775807", status=200),
    query("limit=0", "limit=0", attr="limit"),
    query("ordering=password", "ordering=password", attr="ordering"),
    query("ordering by owner", "ordering=user_id", attr="ordering"),
    query("ordering by deletion", "ordering=-deleted_at", attr="ordering"),
    query("completed=maybe", "completed=maybe", attr="completed"),
    query("priority=urgent", "priority=urgent", attr="priority"),
    query("due_before=tomorrow", "due_before=tomorrow", attr="due_before"),
    query("an offset PostgreSQL cannot store", "due_before=2026-01-01T00:00:00-18:39", status=200),
    query("SQL in search", "search=%27%20OR%201%3D1%20--", status=200),
    query("UNION in search", "search=%27%29%20UNION%20SELECT%20title%20FROM%20tasks_task%20--", status=200),
    query("% in search", "search=%25", status=200),
    query("_ in search", "search=_", status=200),
    query("backslash in search", "search=%5C", status=200),
    query("a NUL in search", "search=%00", status=400, attr="search"),
    Hostile("POST to a task", "POST", MINE, 405, "method_not_allowed", body=b'{"title": "x"}'),
    Hostile("PUT to the list", "PUT", LIST, 405, "method_not_allowed", body=b'{"title": "x"}'),
]


@dataclass
class World:
    server: Server
    database: str
    my_task: int
    victim_tasks: list[int]
    victim_deleted_task: int

    def send(self, row: Hostile) -> Response:
        headers = dict(row.headers)
        if row.authorization == "mine":
            headers["Authorization"] = f"Bearer {mint_token(ME)}"
        elif callable(row.authorization):
            headers["Authorization"] = row.authorization()
        path = row.path.format(
            me=ME,
            victim=VICTIM,
            my_task=self.my_task,
            victim_task=self.victim_tasks[0],
            victim_deleted_task=self.victim_deleted_task,
            token=mint_token(ME),
        )
        body = row.body
        if body is not None:
            headers["Content-Type"] = row.content_type
            body = body.replace(b"{victim}", VICTIM.encode())
            body = body.replace(b"{victim_task}", str(self.victim_tasks[0]).encode())
            body = body.replace(b"{victim_deleted_task}", str(self.victim_deleted_task).encode())
            body = body.replace(b"{my_task}", str(self.my_task).encode())
        return Client(self.server).request(row.method, path, chunks(body) if row.chunked else body, headers)

    def victims_tasks(self) -> tuple[list[bytes], list[tuple[Any, ...]]]:
        """The victim's tasks as the victim's own client reads them, and their rows (soft-deleted ones too)."""
        victim = Client(self.server, token=mint_token(VICTIM))
        answers = [victim.request("GET", f"/api/{VICTIM}/tasks/")]
        answers += [victim.request("GET", f"/api/{VICTIM}/tasks/{id}/") for id in self.victim_tasks]
        assert {answer.status for answer in answers} == {200}
        with psycopg.connect(self.database) as connection:
            rows = connection.execute("SELECT * FROM tasks_task WHERE user_id = %s ORDER BY id", [VICTIM]).fetchall()
        return [answer.body for answer in answers], rows


@pytest.fixture(scope="module")
def world(
    server_env: dict[str, str], server_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with serve(server_env, tmp_path_factory.mktemp("hostile") / "server.log", workers=2) as server:
        victim = Client(server, token=mint_token(VICTIM))
        task = {"description": SECRET, "priority": "high", "due_date": "2031-01-01T09:00:00Z", "tags": ["private"]}
        victim_tasks = [
            victim.json("POST", f"/api/{VICTIM}/tasks/", {**task, "title": f"{SECRET} {n}"}).json()["id"]
            for n in range(3)
        ]
        victim.request("PATCH", f"/api/{VICTIM}/tasks/{victim_tasks[1]}/complete/")
        victim.request("DELETE", f"/api/{VICTIM}/tasks/{victim_tasks[2]}/")
        mine = Client(server, token=mint_token(ME)).json("POST", f"/api/{ME}/tasks/", {"title": "my own task"}).json()
        yield World(server, server_database, mine["id"], victim_tasks[:2], victim_tasks[2])


# Rows the code does not pass yet, each with the reason: to be removed when the fix lands.
KNOWN_BUGS: dict[str, str] = {}


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(row, id=row.name, marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[row.name])])
        if row.name in KNOWN_BUGS
        else pytest.param(row, id=row.name)
        for row in TABLE
    ],
)
def test_a_hostile_request_gets_the_promised_answer(
    world: World, row: Hostile, record_property: pytest.RecordProperty
) -> None:
    record_property("hostile_requests", 1)

    response = world.send(row)

    assert response.status == row.status, response.body[:500]
    if row.status != 204:
        assert response.headers["Content-Type"] == "application/json", response.body[:500]
    if row.code is not None:
        assert response.error_code == row.code, response.body[:500]
    if row.attr is not None:
        assert response.json()["errors"][0]["attr"] == row.attr
    assert SECRET.encode() not in response.body


def test_the_table_is_long_enough_to_mean_something() -> None:
    assert len(TABLE) >= 40


def test_a_batch_naming_the_victims_tasks_is_a_404_for_each_operation(world: World) -> None:
    row = next(row for row in TABLE if row.name == "a batch writing the victim's tasks")

    results = world.send(row).json()["results"]

    assert [(result["status"], result["body"]["errors"][0]["code"]) for result in results] == [(404, "not_found")] * 6


def test_after_the_whole_table_the_victims_tasks_are_byte_for_byte_unchanged(
    world: World, record_property: pytest.RecordProperty
) -> None:
    before = world.victims_tasks()

    for row in TABLE:
        world.send(row)
    record_property("hostile_requests", len(TABLE))

    after = world.victims_tasks()
    assert after[0] == before[0]
    assert after[1] == before[1]
    assert len(before[1]) == 3 and all(SECRET in str(row) for row in before[1])


def test_a_chunked_body_is_read_like_any_other(world: World, record_property: pytest.RecordProperty) -> None:
    # Without a Content-Length, Django would read the body as empty: a PATCH would answer 200 having
    # changed nothing, and an explicit {"completed": false} would flip the task instead.
    mine = Client(world.server, token=mint_token(ME))
    task = mine.json("POST", f"/api/{ME}/tasks/", {"title": "chunked"}).json()
    path = f"/api/{ME}/tasks/{task['id']}/"

    patched = mine.request("PATCH", path, chunks(b'{"title": "sent in chunks"}', size=5))
    completed = [mine.request("PATCH", f"{path}complete/", chunks(b'{"completed": false}', size=3)) for _ in range(2)]
    record_property("hostile_requests", 3)

    assert (patched.status, patched.json()["title"]) == (200, "sent in chunks")
    assert [(response.status, response.json()["completed"]) for response in completed] == [(200, False)] * 2
    assert mine.request("GET", path).json()["title"] == "sent in chunks"
