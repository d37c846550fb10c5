"""``POST …/tasks/batch/``: many task writes in one request, each run exactly as its single-request twin.

An operation is answered by the viewset's own handler for its twin (create, update, partial_update, complete,
destroy, restore, move), on a request of its own that carries the operation's body and If-Match: the same
serializers, services, preconditions and ownership (get_queryset), and so the same answer, errors in the same shape.
Only what belongs to a batch is here: the envelope and its validation, refs, atomicity and the rate charge.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils.datastructures import MultiValueDict
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from common.parsers import SizedJSONParser
from common.throttling import charge

from .conditional import IF_MATCH_PATTERN, INVALID_IF_MATCH, etag_of
from .serializers import StrictBooleanField

if TYPE_CHECKING:
    from .views import TaskViewSet

REF_MAX_LENGTH = 64
REF_PATTERN = rf"[A-Za-z0-9._:-]{{1,{REF_MAX_LENGTH}}}"
# "id": "$ref:<ref>" names the task of an earlier operation of the batch (the one it created or acted on).
REF_PREFIX = "$ref:"
# The two in the schema: for machines (todo_project/schema.py keeps them from the docs, which say them in words).
REF_SCHEMA_PATTERN = f"^{REF_PATTERN}$"
TASK_REF_PATTERN = f"^{re.escape(REF_PREFIX)}{REF_PATTERN}$"

# A move's neighbour may be a task an earlier operation created: "before": "$ref:<ref>", resolved before its twin runs
# (as a parent_id may be).
MOVE_NEIGHBOURS = ("before", "after")
# Each operation: the viewset's handler of its twin, and the twin's method.
TWINS = {
    "create": ("create", "POST"),
    "update": ("update", "PUT"),
    "partial_update": ("partial_update", "PATCH"),
    "complete": ("complete", "PATCH"),
    "delete": ("destroy", "DELETE"),
    "restore": ("restore", "POST"),
    "move": ("move", "POST"),
}
# What each operation takes besides "op" and "ref": as its twin does (a create names no task, a delete and a
# restore take no body, a create no precondition). Anything else is refused, not ignored.
TAKES = {
    "id": set(TWINS) - {"create"},
    "data": {"create", "update", "partial_update", "complete", "move"},
    "if_match": {"update", "partial_update", "complete", "delete", "restore", "move"},
}


class BatchParser(SizedJSONParser):
    """A batch's JSON body: up to API_MAX_BATCH_BODY bytes (deploy/nginx.conf lets as many through)."""

    max_body_setting = "API_MAX_BATCH_BODY"


class FailedDependency(exceptions.APIException):
    status_code = status.HTTP_424_FAILED_DEPENDENCY
    default_detail = "The operation this one names by its ref failed: there is no task to act on."
    default_code = "failed_dependency"


@extend_schema_field(
    {
        "type": "string",
        "pattern": REF_SCHEMA_PATTERN,
        "description": f"The client's name for this operation: 1 to {REF_MAX_LENGTH} letters, digits, dots, dashes, _ "
        f'or :, unique in the batch, echoed in its result. A later operation names its task "{REF_PREFIX}<ref>".',
    }
)
class RefField(serializers.Field):
    default_error_messages = {"invalid": f"A ref is 1 to {REF_MAX_LENGTH} letters, digits, dots, dashes, _ or :."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or not re.fullmatch(REF_PATTERN, data):
            self.fail("invalid")
        return data

    def to_representation(self, value: str) -> str:
        return value


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1},
            {"type": "string", "pattern": TASK_REF_PATTERN},
        ],
        "description": f'The task\'s id, or "{REF_PREFIX}<ref>": the task an earlier operation with that ref created '
        "or acted on. Required by every operation but create, which takes none.",
    }
)
class TaskIdField(serializers.Field):
    """A task's id, or ``"$ref:<ref>"``: the task of the earlier operation with that ref."""

    default_error_messages = {
        "invalid": f'A task id (a positive integer), or "{REF_PREFIX}<ref>" of an earlier operation.'
    }

    def to_internal_value(self, data: Any) -> int | str:
        # Any size: one past the column's range is a 404, as it is in a task's URL.
        if isinstance(data, int) and not isinstance(data, bool) and data >= 1:
            return data
        if isinstance(data, str) and data.startswith(REF_PREFIX) and re.fullmatch(REF_PATTERN, data[len(REF_PREFIX) :]):
            return data
        self.fail("invalid")

    def to_representation(self, value: int | str) -> int | str:
        return value


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": True,
        "description": "The body its twin takes: TaskRequest for create and update, PatchedTaskRequest for "
        "partial_update, TaskCompletionRequest for complete (none: a flip), TaskMoveRequest for move. Not taken by "
        f'delete or restore. Its parent_id, and a move\'s before or after, may also be "{REF_PREFIX}<ref>": the task '
        "an earlier operation with that ref created or acted on.",
    }
)
class ObjectField(serializers.Field):
    """A JSON object, taken as it is: the operation's twin validates it."""

    default_error_messages = {"invalid": "Expected a JSON object."}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail("invalid")
        return data

    def to_representation(self, value: dict[str, Any]) -> dict[str, Any]:
        return value


@extend_schema_field(
    {
        "type": "string",
        "pattern": IF_MATCH_PATTERN,
        "description": "Its twin's If-Match header: act only if the task still has this ETag. Taken by update, "
        "partial_update, complete, delete, restore and move.",
    }
)
class IfMatchField(serializers.Field):
    """An operation's If-Match, held to the header's syntax (tasks/conditional.py)."""

    default_error_messages = {"invalid_if_match": INVALID_IF_MATCH}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or not re.fullmatch(IF_MATCH_PATTERN, data):
            self.fail("invalid_if_match")
        return data

    def to_representation(self, value: str) -> str:
        return value


class ClosedSerializer(serializers.Serializer):
    """A JSON object with exactly these fields: a misspelt one ("if-match") refused, not silently ignored."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            unknown = next((name for name in data if name not in self.fields), None)
            if unknown is not None:
                detail = f"Not a field here: use {', '.join(self.fields)}."
                raise ValidationError({unknown: [ErrorDetail(detail, code="unknown_field")]})
        return super().to_internal_value(data)


class OperationSerializer(ClosedSerializer):
    """One operation: which twin, the task it names, its body and its precondition."""

    op = serializers.ChoiceField(choices=list(TWINS))
    ref = RefField(required=False)
    id = TaskIdField(required=False)
    data = ObjectField(required=False)
    if_match = IfMatchField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        op = attrs["op"]
        errors = {}
        if op in TAKES["id"] and "id" not in attrs:
            errors["id"] = [ErrorDetail(f'"{op}" needs the id of the task (or "{REF_PREFIX}<ref>").', code="required")]
        for name, ops in TAKES.items():
            if name in attrs and op not in ops:
                errors[name] = [ErrorDetail(f'"{op}" takes no {name}.', code="not_allowed")]
        if errors:
            raise ValidationError(errors)
        return attrs


class BatchSerializer(ClosedSerializer):
    """The batch: ``operations`` in order, all or nothing when ``atomic``."""

    atomic = StrictBooleanField(default=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        # Built per request: the bound is a setting. A ListSerializer checks it before validating any item.
        return {
            **super().get_fields(),
            "operations": OperationSerializer(many=True, max_length=settings.API_MAX_BATCH_OPERATIONS),
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Refs are checked before anything runs: a batch that names what it never defines is malformed.
        defined: dict[str, int] = {}
        errors: dict[int, dict[str, list[ErrorDetail]]] = {}
        for index, operation in enumerate(attrs["operations"]):
            target = operation.get("id")
            if isinstance(target, str) and target.removeprefix(REF_PREFIX) not in defined:
                detail = f'No earlier operation has the ref "{target.removeprefix(REF_PREFIX)}".'
                errors.setdefault(index, {})["id"] = [ErrorDetail(detail, code="unknown_ref")]
            for name, ref in _data_refs(operation):
                if ref not in defined:
                    detail = f'No earlier operation has the ref "{ref}".'
                    unknown = [ErrorDetail(detail, code="unknown_ref")]
                    errors.setdefault(index, {}).setdefault("data", {})[name] = unknown
            ref = operation.get("ref")
            if ref in defined:
                detail = f"Operation {defined[ref]} has this ref already: a ref names one operation."
                errors.setdefault(index, {})["ref"] = [ErrorDetail(detail, code="duplicate_ref")]
            elif ref is not None:
                defined[ref] = index
        if errors:
            raise ValidationError({"operations": errors})
        return attrs


class Aborted(Exception):
    """An atomic batch's operation failed: everything before it is rolled back."""

    def __init__(self, index: int, answer: Response) -> None:
        self.index, self.answer = index, answer


def run_batch(view: TaskViewSet, request: Request) -> Response:
    """Validate the batch, charge its operations to the user's rate, and run them in order."""
    batch = BatchSerializer(data=request.data)
    batch.is_valid(raise_exception=True)
    operations = batch.validated_data["operations"]
    # DRF counted the request itself on its way in: each further operation counts as one more.
    if len(operations) > 1:
        throttled = charge(request, view, len(operations) - 1)
        if throttled is not None:
            raise throttled
    if not batch.validated_data["atomic"]:
        return Response({"results": _run_all(view, operations, atomic=False)})
    try:
        with transaction.atomic():
            results = _run_all(view, operations, atomic=True)
    except Aborted as aborted:
        return _atomic_failure(aborted)
    return Response({"results": results})


def _run_all(view: TaskViewSet, operations: list[dict[str, Any]], *, atomic: bool) -> list[dict[str, Any]]:
    results = []
    # Each ref's task id, or None when its operation failed.
    tasks_by_ref: dict[str, int | None] = {}
    for index, operation in enumerate(operations):
        answer, task_id = _run_one(view, operation, tasks_by_ref)
        if atomic and not status.is_success(answer.status_code):
            raise Aborted(index, answer)
        if "ref" in operation:
            tasks_by_ref[operation["ref"]] = task_id if status.is_success(answer.status_code) else None
        results.append(
            {"ref": operation.get("ref"), "status": answer.status_code, "body": answer.data, "etag": etag_of(answer)}
        )
    return results


def _run_one(
    view: TaskViewSet, operation: dict[str, Any], tasks_by_ref: dict[str, int | None]
) -> tuple[Response, int | None]:
    """The answer of the operation's twin, and the id of the task it created or acted on."""
    handler, method = TWINS[operation["op"]]
    twin = copy.copy(view)
    twin.action = handler
    data, if_match = operation.get("data", {}), operation.get("if_match")
    twin.request = _twin_request(view.request, method, data, if_match)
    twin.kwargs = {"user_id": view.kwargs["user_id"]}
    task_id = None
    try:
        refs = _data_refs(operation)
        if refs:
            resolved = {name: _resolve(REF_PREFIX + ref, tasks_by_ref) for name, ref in refs}
            twin.request = _twin_request(view.request, method, {**data, **resolved}, if_match)
        if "id" in operation:
            task_id = _resolve(operation["id"], tasks_by_ref)
            twin.kwargs["pk"] = str(task_id)
        answer = getattr(twin, handler)(twin.request, **twin.kwargs)
    # What a client's input can cause, answered as the twin's handler answers it. Anything else (the database
    # down) fails the whole batch, as it would fail a single request.
    except (exceptions.APIException, Http404) as exc:
        answer = twin.handle_exception(exc)
    if isinstance(answer.data, dict) and "id" in answer.data and status.is_success(answer.status_code):
        task_id = answer.data["id"]
    return answer, task_id


def _data_refs(operation: dict[str, Any]) -> list[tuple[str, str]]:
    """The refs its body names tasks by, as (field, ref): its parent_id, a move's before or after (anything else
    there is for its twin to judge)."""
    data = operation.get("data", {})
    names = ["parent_id", *(MOVE_NEIGHBOURS if operation["op"] == "move" else [])]
    return [
        (name, data[name].removeprefix(REF_PREFIX))
        for name in names
        if isinstance(data.get(name), str) and re.fullmatch(TASK_REF_PATTERN, data[name])
    ]


def _resolve(target: int | str, tasks_by_ref: dict[str, int | None]) -> int:
    if isinstance(target, int):
        return target
    task_id = tasks_by_ref[target.removeprefix(REF_PREFIX)]
    if task_id is None:
        raise FailedDependency()
    return task_id


def _twin_request(request: Request, method: str, data: dict[str, Any], if_match: str | None) -> Request:
    """The request the operation's twin would have been: the batch's, with the operation's method, body and
    If-Match (never the batch's own)."""
    http = copy.copy(request._request)
    http.method = method
    http.META = {name: value for name, value in request.META.items() if name != "HTTP_IF_MATCH"}
    if if_match is not None:
        http.META["HTTP_IF_MATCH"] = if_match
    http.__dict__.pop("headers", None)  # a cached view of META
    twin = Request(
        http,
        parsers=request.parsers,
        authenticators=request.authenticators,
        negotiator=request.negotiator,
        parser_context=dict(request.parser_context),
    )
    twin._full_data = twin._data = data
    twin._files = MultiValueDict()
    twin.user, twin.auth, twin._authenticator = request.user, request.auth, request.successful_authenticator
    twin.accepted_renderer, twin.accepted_media_type = request.accepted_renderer, request.accepted_media_type
    twin.version, twin.versioning_scheme = request.version, request.versioning_scheme
    return twin


def _atomic_failure(aborted: Aborted) -> Response:
    """The failed operation's own answer, its errors' ``attr`` naming the operation: ``operations.<index>``, or
    ``operations.<index>.data.<field>`` for a field of its body."""
    prefix = f"operations.{aborted.index}"
    data = copy.deepcopy(aborted.answer.data)
    for error in data["errors"]:
        error["attr"] = prefix if error["attr"] is None else f"{prefix}.data.{error['attr']}"
    return Response(data, status=aborted.answer.status_code)
