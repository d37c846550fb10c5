"""The floor: the least a Python WSGI app can do to answer the benchmark's requests with our API's bytes.

``python deploy/serve.py bench.floor:app`` (the same stack), with the same environment as the API. It verifies the
same tokens (PyJWT, HS256, the same leeway, required ``exp``, the same user-id checks), enforces the same
ownership (403 for another user's URL, 404 for a task that is not one of the user's live tasks), runs the
same statements' work (a count and a page for lists, one INSERT/UPDATE … RETURNING per write) on one
persistent psycopg connection per worker, and renders the same JSON with orjson. What it leaves out is
what makes it a floor: no framework, no middleware, no throttling, no request log, no transaction around
single statements, no health-check query. It serves only the routes the benchmark drives.

The representation follows the API's: ``run.py`` probes our server and passes its field list
(``FLOOR_FIELDS``) and whether one-task responses carry an ETag (``FLOOR_ETAG``), then checks the two
servers' bodies byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
import orjson
import psycopg
from psycopg.types.json import Jsonb

SECRET = os.environ["BETTER_AUTH_SECRET"]
LEEWAY = int(os.environ.get("JWT_LEEWAY_SECONDS", "30"))
USER_ID_CLAIM = os.environ.get("JWT_USER_ID_CLAIM", "sub")
ISSUER = os.environ.get("JWT_ISSUER") or None
AUDIENCE = os.environ.get("JWT_AUDIENCE") or None
DATABASE_URL = os.environ["DATABASE_URL"]
DEFAULT_FIELDS = "id,user_id,title,description,completed,priority,due_date,created_at,updated_at"
FIELDS = os.environ.get("FLOOR_FIELDS", DEFAULT_FIELDS).split(",")
ETAG = os.environ.get("FLOOR_ETAG") == "1"

PRIORITIES = {1: "low", 2: "medium", 3: "high"}
RANKS = {label: rank for rank, label in PRIORITIES.items()}
ORDERINGS = {"created_at", "updated_at", "title", "priority", "due_date", "completed"}
MAX_BODY = 64 * 1024
MAX_ID = 2**63 - 1
COLUMNS = ", ".join(FIELDS)
# One task is read with its version, from which (with its id) the API derives its ETag: once, whether or not the
# representation carries it too.
TASK_FIELDS = FIELDS if "version" in FIELDS else [*FIELDS, "version"]
TASK_COLUMNS = ", ".join(TASK_FIELDS)
VERSION_AT = TASK_FIELDS.index("version")
TAG_SEPARATOR = "\x1f"
# completed_at as the API keeps it (tasks/models.py completed_at_sql): kept when the task was completed already,
# now when it becomes so, cleared when it is reopened; an UPDATE's SET reads the row's old values.
COMPLETED_AT_SET = "completed_at = CASE WHEN %s THEN coalesce(completed_at, now()) END"
COMPLETED_AT_FLIP = "completed_at = CASE WHEN NOT completed THEN now() END"

LIST_ROUTE = re.compile(r"/api/([^/]+)/tasks/?")
CHANGES_ROUTE = re.compile(r"/api/([^/]+)/tasks/changes/?")
TASK_ROUTE = re.compile(r"/api/([^/]+)/tasks/([^/.]+)/?")
COMPLETE_ROUTE = re.compile(r"/api/([^/]+)/tasks/([^/.]+)/complete/?")
# The feed's route first: the task route would take "changes" for an id.
ROUTES = [
    (CHANGES_ROUTE, {"GET"}),
    (LIST_ROUTE, {"GET", "POST"}),
    (TASK_ROUTE, {"GET", "PUT"}),
    (COMPLETE_ROUTE, {"PATCH"}),
]

# The headers our API sends on every response that the client can see; they cost the floor little.
STATIC_HEADERS = [
    ("Content-Type", "application/json"),
    ("Vary", "origin"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
]


class HttpError(Exception):
    """An error in drf-standardized-errors' shape, as our API would send it."""

    def __init__(self, status: str, kind: str, code: str, detail: str, attr: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.body = {"type": kind, "errors": [{"code": code, "detail": detail, "attr": attr}]}


NOT_AUTHENTICATED = (
    "401 Unauthorized",
    "client_error",
    "not_authenticated",
    "Authentication credentials were not provided: send 'Authorization: Bearer <token>'.",
)
TOKEN_INVALID = ("401 Unauthorized", "client_error", "token_invalid", "The token is invalid.")
TOKEN_EXPIRED = ("401 Unauthorized", "client_error", "token_expired", "The token has expired.")
FORBIDDEN = ("403 Forbidden", "client_error", "permission_denied", "You may only access your own tasks.")
NOT_FOUND = ("404 Not Found", "client_error", "not_found", "Not found.")
TOO_LARGE = ("413 Request Entity Too Large", "client_error", "request_too_large", "The request body is too large.")
UNSUPPORTED = ("415 Unsupported Media Type", "client_error", "unsupported_media_type", "Unsupported media type.")


def _invalid(attr: str, detail: str, code: str = "invalid") -> HttpError:
    return HttpError("400 Bad Request", "validation_error", code, detail, attr)


# One connection per worker process, opened after the fork on first use; autocommit, because each
# request is a single statement or two reads, and psycopg prepares repeated statements server-side. The planner's
# page cost is the API's connections' (todo_project/settings.py), so that both run the same plans.
_connection: psycopg.Connection | None = None


def db() -> psycopg.Connection:
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(DATABASE_URL, autocommit=True, options="-c TimeZone=UTC -c random_page_cost=1.1")
    return _connection


def authenticate(environ: dict[str, Any]) -> str:
    parts = environ.get("HTTP_AUTHORIZATION", "").split()
    if not parts or parts[0].lower() != "bearer":
        raise HttpError(*NOT_AUTHENTICATED)
    if len(parts) != 2:
        raise HttpError(*TOKEN_INVALID)
    try:
        claims = jwt.decode(
            parts[1],
            SECRET,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY,
            options={"require": ["exp"], "verify_aud": AUDIENCE is not None},
        )
    except jwt.ExpiredSignatureError as exc:
        raise HttpError(*TOKEN_EXPIRED) from exc
    except jwt.InvalidTokenError as exc:
        raise HttpError(*TOKEN_INVALID) from exc
    user_id = claims.get(USER_ID_CLAIM)
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 255 or "\x00" in user_id:
        raise HttpError(*TOKEN_INVALID)
    return user_id


def row_to_representation(row: Sequence[Any]) -> dict[str, Any]:
    task = dict(zip(FIELDS, row, strict=True))
    task["priority"] = PRIORITIES[task["priority"]]
    return task


def render(data: Any) -> bytes:
    body = orjson.dumps(data, option=orjson.OPT_UTC_Z)
    # DRF's JSONRenderer escapes these two for JavaScript; orjson leaves them raw.
    if b"\xe2\x80\xa8" in body or b"\xe2\x80\xa9" in body:
        body = body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    return body


def etag(task_id: int, version: int) -> str:
    # The API's strong validator: the task's id and version, which every write bumps.
    return f'"{task_id}-{version}"'


def task_id(raw: str) -> int:
    if raw.isascii() and raw.isdecimal() and len(raw) <= 19 and 0 < int(raw) <= MAX_ID:
        return int(raw)
    raise HttpError(*NOT_FOUND)


def absolute_url(environ: dict[str, Any], path: str, query: str = "") -> str:
    url = f"{environ['wsgi.url_scheme']}://{environ['HTTP_HOST']}{path}"
    return f"{url}?{query}" if query else url


def replace_query_param(url: str, key: str, value: Any) -> str:
    # DRF's rest_framework.utils.urls.replace_query_param, so page links are the same bytes.
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = parse_qs(query, keep_blank_values=True)
    params[key] = [str(value)]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(params.items()), doseq=True), fragment))


def remove_query_param(url: str, key: str) -> str:
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = parse_qs(query, keep_blank_values=True)
    params.pop(key, None)
    return urlunsplit((scheme, netloc, path, urlencode(sorted(params.items()), doseq=True), fragment))


def count_param(params: dict[str, str], name: str, *, default: int, minimum: int) -> int:
    if name not in params:
        return default
    raw = params[name]
    if raw.isascii() and raw.isdecimal() and len(raw) <= 19 and minimum <= int(raw) <= MAX_ID:
        return int(raw)
    raise _invalid(name, f"Must be a whole number from {minimum} to {MAX_ID}.")


def change_count(user_id: str) -> int:
    row = db().execute("SELECT last_seq FROM tasks_taskchangecounter WHERE user_id = %s", [user_id]).fetchone()
    return row[0] if row else 0


def list_etag(user_id: str, query: str) -> str:
    """The list's ETag as the API makes it (tasks/conditional.py): the user's change counter and a hash."""
    digest = hashlib.blake2b(f"{user_id}?{query}".encode(), digest_size=6).hexdigest()
    return f'"L{change_count(user_id)}-{digest}"'


def changes(environ: dict[str, Any], user_id: str) -> tuple[str, list, bytes]:
    """The change feed with nothing new, the only case the benchmark drives: one read of the counter.

    The cursor's signature is not checked (an HMAC of a few bytes; the floor holds no Django secret), only its
    number read, so the floor does a little less than the API here.
    """
    since = dict(parse_qsl(environ.get("QUERY_STRING", ""))).get("since", "")
    payload = since.split(":", 1)[0]
    seq, _start = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if change_count(user_id) > seq:
        raise HttpError("501 Not Implemented", "server_error", "not_implemented", "Only an unchanged feed.")
    return "200 OK", [], render({"changed": [], "deleted": [], "cursor": since, "has_more": False})


def list_tasks(environ: dict[str, Any], user_id: str) -> tuple[str, list, bytes]:
    query = environ.get("QUERY_STRING", "")
    etag = list_etag(user_id, query)
    params = dict(parse_qsl(query, keep_blank_values=True))
    limit = min(count_param(params, "limit", default=50, minimum=1), 200)
    offset = count_param(params, "offset", default=0, minimum=0)
    where, args = "deleted_at IS NULL AND user_id = %s", [user_id]
    if "completed" in params:
        if params["completed"] not in ("true", "false"):
            raise _invalid("completed", "Select a valid choice.", "invalid_choice")
        where += " AND completed = %s"
        args.append(params["completed"] == "true")
    if "priority" in params:
        if params["priority"] not in RANKS:
            raise _invalid("priority", "Select a valid choice.", "invalid_choice")
        where += " AND priority = %s"
        args.append(RANKS[params["priority"]])
    order = "created_at DESC, id DESC"
    if params.get("ordering"):
        terms = []
        for term in params["ordering"].split(","):
            name = term.lstrip("-")
            if name not in ORDERINGS:
                raise _invalid("ordering", "Select a valid choice.", "invalid_choice")
            direction = "DESC" if term.startswith("-") else "ASC"
            terms.append(f"{name} {direction}{' NULLS LAST' if name == 'due_date' else ''}")
        order = ", ".join([*terms, "id DESC"])
    conn = db()
    count = conn.execute(f"SELECT count(*) FROM tasks_task WHERE {where}", args).fetchone()[0]
    rows = []
    if count and offset <= count:
        page_sql = f"SELECT {COLUMNS} FROM tasks_task WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s"
        rows = conn.execute(page_sql, [*args, limit, offset]).fetchall()
    url = absolute_url(environ, environ["PATH_INFO"], query)
    next_link = previous_link = None
    if offset + limit < count:
        next_link = replace_query_param(replace_query_param(url, "limit", limit), "offset", offset + limit)
    if offset > 0:
        previous_link = replace_query_param(url, "limit", limit)
        if offset - limit <= 0:
            previous_link = remove_query_param(previous_link, "offset")
        else:
            previous_link = replace_query_param(previous_link, "offset", offset - limit)
    page = {
        "count": count,
        "next": next_link,
        "previous": previous_link,
        "results": [row_to_representation(r) for r in rows],
    }
    return "200 OK", [("ETag", etag)], render(page)


def read_json(environ: dict[str, Any], *, allow_empty: bool = False) -> dict[str, Any]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length == 0 and allow_empty:
        return {}
    if length > MAX_BODY:
        raise HttpError(*TOO_LARGE)
    if not environ.get("CONTENT_TYPE", "").startswith("application/json"):
        raise HttpError(*UNSUPPORTED)
    try:
        data = orjson.loads(environ["wsgi.input"].read(length))
    except orjson.JSONDecodeError as exc:
        raise HttpError("400 Bad Request", "client_error", "parse_error", "JSON parse error.") from exc
    if not isinstance(data, dict):
        raise _invalid("non_field_errors", "Invalid data. Expected a dictionary.")
    return data


def text(data: dict[str, Any], name: str, *, max_length: int, default: str | None = None) -> str:
    value = data.get(name, default)
    if value is None:
        raise _invalid(name, "This field is required.", "required")
    if not isinstance(value, str) or "\x00" in value:
        raise _invalid(name, "Not a valid string.")
    value = value.strip()
    if (default is None and not value) or len(value) > max_length:
        raise _invalid(name, f"Ensure this field has 1 to {max_length} characters.")
    return value


def task_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The writable fields of a full representation (POST, PUT), validated as strictly as the API does."""
    fields = {
        "title": text(data, "title", max_length=200),
        "description": text(data, "description", max_length=1000, default=""),
        "completed": data.get("completed", False),
        "priority": data.get("priority", "medium"),
        "due_date": data.get("due_date"),
    }
    if not isinstance(fields["completed"], bool):
        raise _invalid("completed", "Must be a valid boolean.")
    if not isinstance(fields["priority"], str) or fields["priority"] not in RANKS:
        raise _invalid("priority", "Not a valid choice.", "invalid_choice")
    fields["priority"] = RANKS[fields["priority"]]
    if fields["due_date"] is not None:
        try:
            due = datetime.fromisoformat(fields["due_date"])
        except (TypeError, ValueError) as exc:
            raise _invalid("due_date", "Datetime has wrong format.") from exc
        fields["due_date"] = due if due.tzinfo else due.replace(tzinfo=UTC)
    if "tags" in FIELDS:
        tags = data.get("tags", [])
        if (
            not isinstance(tags, list)
            or len(tags) > 20
            or not all(isinstance(t, str) and 1 <= len(t) <= 50 and t == t.strip() for t in tags)
            or any(unicodedata.category(c) == "Cc" for t in tags for c in t)
            or len({t.casefold() for t in tags}) != len(tags)
        ):
            raise _invalid("tags", "Tags are a list of at most 20 distinct, trimmed 1 to 50 character strings.")
        fields["tags"] = Jsonb(tags)
        fields["tag_keys"] = "".join(f"{TAG_SEPARATOR}{t.casefold()}{TAG_SEPARATOR}" for t in tags)
    return fields


def one_task(row: tuple | None, status: str = "200 OK", headers: list | None = None) -> tuple[str, list, bytes]:
    if row is None:
        raise HttpError(*NOT_FOUND)
    task = row_to_representation(row[: len(FIELDS)])
    headers = list(headers or [])
    if ETAG:
        headers.append(("ETag", etag(task["id"], row[VERSION_AT])))
    return status, headers, render(task)


def create_task(environ: dict[str, Any], user_id: str) -> tuple[str, list, bytes]:
    fields = task_fields(read_json(environ))
    names = ", ".join(fields)
    values = ", ".join(["%s"] * len(fields))
    statement = (
        f"INSERT INTO tasks_task (user_id, {names}, completed_at, created_at, updated_at) "
        f"VALUES (%s, {values}, CASE WHEN %s THEN now() END, now(), now()) RETURNING {TASK_COLUMNS}"
    )
    row = db().execute(statement, [user_id, *fields.values(), fields["completed"]]).fetchone()
    location = absolute_url(environ, f"/api/{user_id}/tasks/{row[0]}/")
    return one_task(row, "201 Created", [("Location", location)])


def retrieve_task(user_id: str, pk: int) -> tuple[str, list, bytes]:
    statement = f"SELECT {TASK_COLUMNS} FROM tasks_task WHERE deleted_at IS NULL AND user_id = %s AND id = %s"
    return one_task(db().execute(statement, [user_id, pk]).fetchone())


def replace_task(environ: dict[str, Any], user_id: str, pk: int) -> tuple[str, list, bytes]:
    fields = task_fields(read_json(environ))
    assignments = ", ".join(f"{name} = %s" for name in fields)
    statement = (
        f"UPDATE tasks_task SET {assignments}, {COMPLETED_AT_SET}, updated_at = now(), version = version + 1 "
        f"WHERE deleted_at IS NULL AND user_id = %s AND id = %s RETURNING {TASK_COLUMNS}"
    )
    return one_task(db().execute(statement, [*fields.values(), fields["completed"], user_id, pk]).fetchone())


def complete_task(environ: dict[str, Any], user_id: str, pk: int) -> tuple[str, list, bytes]:
    completed = read_json(environ, allow_empty=True).get("completed")
    if completed is not None and not isinstance(completed, bool):
        raise _invalid("completed", "Must be a valid boolean.")
    value = "NOT completed" if completed is None else "%s"
    completed_at = COMPLETED_AT_FLIP if completed is None else COMPLETED_AT_SET
    statement = (
        f"UPDATE tasks_task SET completed = {value}, {completed_at}, updated_at = now(), version = version + 1 "
        f"WHERE deleted_at IS NULL AND user_id = %s AND id = %s RETURNING {TASK_COLUMNS}"
    )
    args = [user_id, pk] if completed is None else [completed, completed, user_id, pk]
    return one_task(db().execute(statement, args).fetchone())


def dispatch(environ: dict[str, Any]) -> tuple[str, list, bytes]:
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    for route, methods in ROUTES:
        match = route.fullmatch(path)
        if match:
            allowed = methods
            break
    else:
        raise HttpError("404 Not Found", "client_error", "not_found", "Not found.")
    user_id = authenticate(environ)
    if match.group(1) != user_id:
        raise HttpError(*FORBIDDEN)
    if method not in allowed:
        raise HttpError(
            "405 Method Not Allowed", "client_error", "method_not_allowed", f'Method "{method}" not allowed.'
        )
    if route is CHANGES_ROUTE:
        return changes(environ, user_id)
    if route is LIST_ROUTE:
        return list_tasks(environ, user_id) if method == "GET" else create_task(environ, user_id)
    pk = task_id(match.group(2))
    if route is COMPLETE_ROUTE:
        return complete_task(environ, user_id, pk)
    return retrieve_task(user_id, pk) if method == "GET" else replace_task(environ, user_id, pk)


def app(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    global _connection
    headers: list[tuple[str, str]] = []
    try:
        status, headers, body = dispatch(environ)
    except HttpError as exc:
        status, body = exc.status, render(exc.body)
        if status.startswith("401"):
            headers = [("WWW-Authenticate", 'Bearer realm="api"')]
    except psycopg.OperationalError:
        # The connection is gone: answer 503 as the API does, and reconnect on the next request.
        _connection = None
        status = "503 Service Unavailable"
        body = render(HttpError(status, "server_error", "service_unavailable", "Try again shortly.").body)
    headers += STATIC_HEADERS
    headers += [("Content-Length", str(len(body))), ("X-Request-ID", uuid.uuid4().hex)]
    start_response(status, headers)
    return [body]
