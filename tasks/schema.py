"""How the task routes appear in the OpenAPI schema, kept apart so that the viewset stays thin."""

from __future__ import annotations

from typing import Any, TypeVar

from django.conf import settings
from django.db import models
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from drf_standardized_errors.openapi_serializers import (
    ClientErrorEnum,
    ParseErrorResponseSerializer,
    ValidationErrorResponseSerializer,
)
from drf_standardized_errors.openapi_utils import get_example_from_exception
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import serializers

from common.schema import error_response_serializer

from .batch import REF_MAX_LENGTH, BatchSerializer
from .changes import CursorExpired
from .conditional import IF_MATCH_PATTERN
from .datetimes import DATE_TIME_PATTERN
from .filters import NON_EMPTY_FILTERS, PARENT_PATTERN, TaskFilter
from .models import Priority
from .serializers import TaskChangesSerializer, TaskCompletionSerializer, TaskMoveSerializer, TaskSerializer
from .tags import MAX_TAG_LENGTH
from .text import CONTAINS_NUL, TAG_PATTERN, TEXT_PATTERN

ViewSet = TypeVar("ViewSet")


class StrictCharFieldExtension(OpenApiSerializerFieldExtension):
    """A string field as DRF documents it, plus the pattern of what tasks/text.py refuses in it."""

    target_class = "tasks.serializers.StrictCharField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if self.target.allow_blank:
            # Said as "contains no NUL" rather than as a pattern: drf-spectacular turns a blank-allowing
            # field with a pattern into oneOf(string, ""), which "" then matches twice, breaking oneOf.
            schema["not"] = {"pattern": CONTAINS_NUL}
            rule = "No NUL character."
        else:
            schema["pattern"] = TEXT_PATTERN
            rule = "Not blank (not only spaces), no NUL character."
        # The patterns are for machines: the docs pages show this sentence instead (todo_project/schema.py).
        schema["description"] = " ".join(filter(None, [schema.get("description"), rule]))
        return schema


class TaskCompletionSerializerExtension(OpenApiSerializerExtension):
    """The body of ``…/complete/`` as DRF documents it, closed: a field other than ``completed`` is a 400."""

    target_class = "tasks.serializers.TaskCompletionSerializer"

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {**auto_schema._map_basic_serializer(self.target, direction), "additionalProperties": False}


# A move's body names at most one neighbour (each field's description says it in words, for the docs pages).
NOT_BOTH_NEIGHBOURS = {"required": ["before", "after"]}


class TaskMoveSerializerExtension(OpenApiSerializerExtension):
    """The body of ``…/move/`` as DRF documents it, closed, with something in it and not both ``before`` and
    ``after``: another field, both or nothing are a 400."""

    target_class = "tasks.serializers.TaskMoveSerializer"

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {
            **auto_schema._map_basic_serializer(self.target, direction),
            "additionalProperties": False,
            "minProperties": 1,
            "not": NOT_BOTH_NEIGHBOURS,
        }


class ClosedSerializerExtension(OpenApiSerializerExtension):
    """A batch and its operations as DRF documents them, closed: any other field is a 400."""

    target_class = "tasks.batch.ClosedSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = {**auto_schema._map_basic_serializer(self.target, direction), "additionalProperties": False}
        # drf-spectacular leaves out a list's max_length (the batch's operations).
        for name, field in self.target.fields.items():
            if isinstance(field, serializers.ListSerializer) and field.max_length is not None:
                schema["properties"][name]["maxItems"] = field.max_length
        return schema


# A batch's 400 names fields no serializer declares (operations.<index>.data.<field> of an atomic batch's failed
# operation, any misspelt field): its errors are the generic validation errors, or a body that is no JSON.
BATCH_400 = PolymorphicProxySerializer(
    component_name="BatchErrorResponse400",
    serializers={"validation_error": ValidationErrorResponseSerializer, "client_error": ParseErrorResponseSerializer},
    resource_type_field_name="type",
)


class BatchResultSerializer(serializers.Serializer):
    """What one operation's twin answered."""

    ref = serializers.CharField(allow_null=True, help_text="The operation's ref, if it had one.")
    status = serializers.IntegerField(help_text="The status its twin would have answered: 201, 200, 204, 4xx.")
    body = serializers.JSONField(
        allow_null=True,
        help_text="The body its twin would have answered: the task, an error in the usual shape, or null (a delete). "
        "424 `failed_dependency`: the operation its `$ref:` names failed.",
    )
    etag = serializers.CharField(allow_null=True, help_text="The task's ETag after the operation, if it answered one.")


class BatchResponseSerializer(serializers.Serializer):
    results = BatchResultSerializer(many=True, help_text="One per operation, in their order.")


BATCH_EXAMPLE = {
    "atomic": True,
    "operations": [
        {"op": "create", "ref": "milk", "data": {"title": "Buy milk", "tags": ["errands"]}},
        {"op": "partial_update", "id": "$ref:milk", "data": {"priority": "high"}},
        {"op": "complete", "id": 41, "data": {"completed": True}, "if_match": '"41-3"'},
        {"op": "delete", "id": 40},
        {"op": "move", "id": 41, "data": {"after": "$ref:milk"}},
    ],
}
_TASK = {
    "user_id": "alice-3f9c1e7a-5b2d-4c1f-9e8a-7d6b5c4a3f21",
    "description": "",
    "due_date": None,
    "completed_at": None,
    "deleted_at": None,
    "parent_id": None,
    "subtasks_open": 0,
    "subtasks_total": 0,
    "recurrence": None,
    "timezone": "UTC",
    "completions": 0,
}
BATCH_RESULTS_EXAMPLE = {
    "results": [
        {
            "ref": "milk",
            "status": 201,
            "body": {
                "id": 42,
                **_TASK,
                "title": "Buy milk",
                "completed": False,
                "priority": "medium",
                "tags": ["errands"],
                "created_at": "2026-11-20T18:02:11.532906Z",
                "updated_at": "2026-11-20T18:02:11.532906Z",
                "position": "Zy",
                "version": 1,
            },
            "etag": '"42-1"',
        },
        {
            "ref": None,
            "status": 200,
            "body": {
                "id": 42,
                **_TASK,
                "title": "Buy milk",
                "completed": False,
                "priority": "high",
                "tags": ["errands"],
                "created_at": "2026-11-20T18:02:11.532906Z",
                "updated_at": "2026-11-20T18:02:11.541170Z",
                "position": "Zy",
                "version": 2,
            },
            "etag": '"42-2"',
        },
        {
            "ref": None,
            "status": 200,
            "body": {
                "id": 41,
                **_TASK,
                "title": "Call the plumber",
                "completed": True,
                "priority": "medium",
                "tags": [],
                "created_at": "2026-11-19T08:00:00Z",
                "updated_at": "2026-11-20T18:02:11.546302Z",
                "completed_at": "2026-11-20T18:02:11.546302Z",
                "position": "a0",
                "version": 4,
            },
            "etag": '"41-4"',
        },
        {"ref": None, "status": 204, "body": None, "etag": None},
        {
            "ref": None,
            "status": 200,
            "body": {
                "id": 41,
                **_TASK,
                "title": "Call the plumber",
                "completed": True,
                "priority": "medium",
                "tags": [],
                "created_at": "2026-11-19T08:00:00Z",
                "updated_at": "2026-11-20T18:02:11.551820Z",
                "completed_at": "2026-11-20T18:02:11.546302Z",
                "position": "ZyV",
                "version": 5,
            },
            "etag": '"41-5"',
        },
    ]
}


USER_ID = OpenApiParameter(
    "user_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    pattern=r"^[^/]+$",
    description="The token's user id (its `sub` claim unless configured otherwise); any other is a 403.",
)
TASK_ID = OpenApiParameter(
    "id",
    {"type": "integer", "minimum": 1},
    OpenApiParameter.PATH,
    description="The task's id, in plain digits (no sign, no leading zero); anything but one of this user's "
    "live tasks is a 404.",
)
DELETED_TASK_ID = OpenApiParameter(
    "id",
    {"type": "integer", "minimum": 1},
    OpenApiParameter.PATH,
    description="The task's id, in plain digits (no sign, no leading zero); anything but one of this user's "
    "deleted tasks is a 404.",
)
_ORDERING = TaskFilter.base_filters["ordering"]
# django-filter's introspection types these two after the model fields (boolean, integer), but the
# API takes exactly these words and nothing else (not "True", not "1", not a rank).
LIST_FILTERS = [
    OpenApiParameter(
        "deleted",
        OpenApiTypes.STR,
        enum=["true", "false"],
        description="`true` lists the trash (the user's deleted tasks, which `…/restore/` brings back) instead of the "
        "live tasks; the other parameters apply to it alike. `false` unless given.",
    ),
    OpenApiParameter(
        "completed",
        OpenApiTypes.STR,
        enum=["true", "false"],
        description="Only completed (`true`) or only open (`false`) tasks.",
    ),
    OpenApiParameter(
        "recurring",
        OpenApiTypes.STR,
        enum=["true", "false"],
        description="Only recurring tasks (`true`: those with a `recurrence` rule) or only the others (`false`).",
    ),
    OpenApiParameter("priority", OpenApiTypes.STR, enum=Priority.labels, description="Only tasks of this priority."),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1},
        description="Page size: 50 unless given, at most 200 (larger values are capped).",
    ),
    OpenApiParameter(
        "offset",
        {"type": "integer", "minimum": 0},
        description="How many tasks to skip: 0 unless given.",
    ),
    *(
        OpenApiParameter(
            name,
            {"type": "string", "format": "date-time", "pattern": DATE_TIME_PATTERN},
            description=f"Only tasks due strictly {name.removeprefix('due_')} this date-time (a year from 0002 to "
            "9998, as written and in UTC); never those without one.",
        )
        for name in ("due_before", "due_after")
    ),
    *(
        OpenApiParameter(
            name,
            {"type": "string", "format": "date-time", "pattern": DATE_TIME_PATTERN},
            description=f"Only tasks completed strictly {name.removeprefix('completed_')} this date-time (a year from "
            "0002 to 9998, as written and in UTC), by their last completion (`completed_at`: an open recurring task "
            "keeps the time its last occurrence was completed); never those without one.",
        )
        for name in ("completed_before", "completed_after")
    ),
    OpenApiParameter(
        "search",
        {"type": "string", "maxLength": settings.API_SEARCH_MAX_LENGTH, "not": {"pattern": CONTAINS_NUL}},
        description="Every word must appear, in any letter case, in the title or the description; "
        f"at most {settings.API_SEARCH_MAX_WORDS} words, no NUL character.",
    ),
    # As django-filter documents it, but with at least one field: "?ordering=" is a 400, not an empty list.
    OpenApiParameter(
        "ordering",
        {
            "type": "array",
            "items": {"type": "string", "enum": [value for value, _ in _ORDERING.extra["choices"]]},
            "minItems": 1,
        },
        explode=False,
        style="form",
        description=_ORDERING.extra["help_text"],
    ),
    OpenApiParameter(
        "parent",
        {"type": "string", "pattern": PARENT_PATTERN},
        description="A task's id: only its direct subtasks. `none`: only top-level tasks.",
    ),
    OpenApiParameter(
        "tag",
        {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_LENGTH, "pattern": TAG_PATTERN},
            "maxItems": settings.API_MAX_TAG_FILTERS,
        },
        explode=True,
        description="Only tasks carrying this tag, in any letter case; repeat it (`?tag=a&tag=b`) to require all. "
        f"A tag is 1 to {MAX_TAG_LENGTH} characters, not blank, without control characters.",
    ),
]
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201, 304],
    description="A strong validator of the task, new with every write to it: send it back in `If-Match` or "
    "`If-None-Match`.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    {"type": "string", "pattern": IF_MATCH_PATTERN},
    OpenApiParameter.HEADER,
    description="Write only if the task still has this ETag (or `*`); otherwise a 412 and nothing changes.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="A 304 with no body if the task still has this ETag (or for `*`).",
)
LIST_ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 304],
    description="A strong validator of this list, new with every write to the user's tasks: send it back in "
    "`If-None-Match`.",
)
LIST_IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="A 304 with no body if none of the user's tasks has changed since this list's ETag was given.",
)
CHANGES_PARAMETERS = [
    OpenApiParameter(
        "since",
        OpenApiTypes.STR,
        description="The `cursor` of the previous answer, as given. Without it, every live task. A cursor not given "
        "to this user is a 400 (`invalid_cursor`), one older than the deleted tasks kept a 410 (`cursor_expired`): "
        "either way, start over without it.",
    ),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1},
        description=f"Changes per answer: {settings.API_CHANGES_PAGE_SIZE} unless given, at most "
        f"{settings.API_CHANGES_MAX_PAGE_SIZE} (larger values are capped). `has_more` says when to call again.",
    ),
]


class ErrorCode410Enum(models.TextChoices):
    CURSOR_EXPIRED = CursorExpired.default_code


ErrorResponse410Serializer = error_response_serializer(410, ErrorCode410Enum, ClientErrorEnum)
ERROR_HEADERS = [
    OpenApiParameter(
        "WWW-Authenticate",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[401],
        description='`Bearer realm="api"`',
    ),
    OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        # 409: a request with the same Idempotency-Key is still running (common/idempotency.py).
        response=[409, 429],
        description="Seconds to wait before trying again.",
    ),
]


def document_task_viewset(viewset: ViewSet) -> ViewSet:
    """Apply the schema declarations to ``TaskViewSet``."""
    # Raised by the paginator, the filters and the tags field, which the schema generator cannot see into.
    # One declaration per parameter: a second one for the same parameter replaces the first.
    list_codes = {name: ["blank", "repeated"] for name in NON_EMPTY_FILTERS}
    for name in ("due_before", "due_after", "completed_before", "completed_after"):
        list_codes[name].append("out_of_range")
    list_codes |= {
        "tag": ["invalid_tag", "too_many_tags"],
        "search": ["null_characters_not_allowed", "search_too_long", "too_many_words"],
        "limit": ["invalid"],
    }
    list_codes["parent"].append("invalid")
    list_codes["offset"] = ["invalid"]
    for name, codes in list_codes.items():
        viewset = extend_validation_errors(codes, field_name=name, actions=["list"])(viewset)
    # Any route: common/limits.py, attr null.
    viewset = extend_validation_errors(["query_string_too_long"])(viewset)
    tag_codes = ["not_a_list", "too_many_tags", "invalid_tag"]
    writes = ["create", "update", "partial_update"]
    viewset = extend_validation_errors(tag_codes, field_name="tags", actions=writes)(viewset)
    viewset = extend_validation_errors(["invalid", "null", "out_of_range"], field_name="due_date", actions=writes)(
        viewset
    )
    # tasks/tree.py: the parent's rules, checked by the services.
    parent_codes = ["invalid", "does_not_exist", "cycle", "too_deep", "too_many_subtasks"]
    viewset = extend_validation_errors(parent_codes, field_name="parent_id", actions=[*writes, "move"])(viewset)
    viewset = extend_validation_errors(
        ["invalid", "max_length", "invalid_rule"], field_name="recurrence", actions=writes
    )(viewset)
    viewset = extend_validation_errors(["invalid", "invalid_time_zone"], field_name="timezone", actions=writes)(viewset)
    viewset = extend_validation_errors(["unknown_field"], field_name="non_field_errors", actions=["complete"])(viewset)
    move_codes = ["not_a_sibling"]
    viewset = extend_validation_errors(move_codes, field_name="before", actions=["move"])(viewset)
    viewset = extend_validation_errors(move_codes, field_name="after", actions=["move"])(viewset)
    move_body_codes = ["unknown_field", "before_and_after", "required"]
    viewset = extend_validation_errors(move_body_codes, field_name="non_field_errors", actions=["move"])(viewset)
    preconditioned = ["update", "partial_update", "destroy", "complete", "restore", "move"]
    viewset = extend_validation_errors(["invalid_if_match"], field_name="If-Match", actions=preconditioned)(viewset)
    viewset = extend_validation_errors(["invalid_cursor", "repeated"], field_name="since", actions=["changes"])(viewset)
    viewset = extend_validation_errors(["invalid"], field_name="limit", actions=["changes"])(viewset)
    viewset = extend_schema_view(
        list=extend_schema(
            operation_id="tasks_list",
            summary="List tasks",
            description=(
                "A page of the user's tasks, newest first unless `ordering` says otherwise. "
                "Filters combine; a value that makes no sense is a 400 naming the parameter."
            ),
            parameters=[*LIST_FILTERS, LIST_IF_NONE_MATCH, LIST_ETAG],
            responses={
                200: TaskSerializer(many=True),
                304: OpenApiResponse(description="None of the user's tasks has changed since this ETag was given."),
            },
        ),
        changes=extend_schema(
            operation_id="tasks_changes",
            summary="What changed since a cursor",
            description=(
                "The user's tasks created or changed since `since` (as they are now) and those deleted since "
                "(tombstones), each change once, oldest first, and a new `cursor`. Without `since`: every live task. "
                "Call again with each answer's `cursor`, at once while `has_more`, later to catch up: a client "
                "that does holds exactly the server's tasks, never missing a change committed meanwhile."
            ),
            parameters=CHANGES_PARAMETERS,
            responses={
                200: TaskChangesSerializer,
                410: OpenApiResponse(
                    ErrorResponse410Serializer,
                    description="The cursor is older than the deleted tasks kept: start over without `since`.",
                    examples=[get_example_from_exception(CursorExpired())],
                ),
            },
        ),
        create=extend_schema(
            operation_id="tasks_create",
            summary="Create a task",
            description="The task belongs to the token's user; `id`, `user_id`, timestamps and counts sent are "
            "ignored. With `parent_id`, it is a subtask of that task (one of the user's live tasks, within "
            f"{settings.API_MAX_TASK_DEPTH} levels and {settings.API_MAX_TASK_TREE_SIZE} tasks a tree); the parent's "
            "counts and version change with it.",
            parameters=[
                OpenApiParameter(
                    "Location",
                    OpenApiTypes.URI,
                    OpenApiParameter.HEADER,
                    response=[201],
                    description="The new task's URL.",
                ),
                ETAG,
            ],
        ),
        retrieve=extend_schema(
            operation_id="tasks_retrieve",
            summary="Get a task",
            parameters=[TASK_ID, IF_NONE_MATCH, ETAG],
            responses={200: TaskSerializer, 304: OpenApiResponse(description="The task has not changed.")},
        ),
        update=extend_schema(
            operation_id="tasks_update",
            summary="Replace a task",
            description="`title` is required; the fields left out return to their defaults (`parent_id` to null: "
            "the top level). Setting `completed` to true completes the task's open subtasks too.",
            parameters=[TASK_ID, IF_MATCH, ETAG],
        ),
        partial_update=extend_schema(
            operation_id="tasks_partial_update",
            summary="Change some of a task's fields",
            description="Only the fields sent change. A `parent_id` moves the task, with its subtasks, under that task "
            "(or, null, to the top level); completing it completes its open subtasks too.",
            parameters=[TASK_ID, IF_MATCH, ETAG],
        ),
        destroy=extend_schema(
            operation_id="tasks_destroy",
            summary="Delete a task",
            description="The task is soft-deleted, with its live subtasks at every level: they disappear from the API "
            "(into the trash, `?deleted=true`) at the same instant.",
            parameters=[TASK_ID, IF_MATCH],
            # Declared, where drf-spectacular would write a bare 204, so that it carries its headers (a replay's).
            responses={204: OpenApiResponse(description="Deleted: no body.")},
        ),
        complete=extend_schema(
            methods=["PATCH"],
            operation_id="tasks_complete",
            summary="Complete or reopen a task",
            description='No body (or `{}`) flips `completed`; `{"completed": true}` or `false` sets it. Completing '
            "a task completes its open subtasks at every level; reopening it reopens none of them.",
            parameters=[TASK_ID, IF_MATCH, ETAG],
            request=TaskCompletionSerializer,
            responses={200: TaskSerializer},
        ),
        move=extend_schema(
            operation_id="tasks_move",
            summary="Move a task in its list, or to another",
            description=(
                'Puts the task right before another task of its list (`{"before": <id>}`) or right after one '
                '(`{"after": <id>}`), and answers the task with its new `position`; every other task keeps its own. '
                "A list is a user's tasks under one parent: list one in its order with `ordering=position` and "
                "`parent=`; a new task goes to the top. With `parent_id`, the task moves to that parent's subtasks "
                "(null: the top level), checked as a `parent_id` of a PATCH is (a 400 naming it): at their top, or "
                "next to `before` or `after`, one of them. The other task must be another of the user's live tasks "
                "in the task's (new) list: any other id (another user's, a deleted task's, this task's own, an id no "
                "task has) is the same 400 naming `before` or `after`. A move to where the task already is changes "
                "its version only."
            ),
            parameters=[TASK_ID, IF_MATCH, ETAG],
            request=TaskMoveSerializer,
            responses={200: TaskSerializer},
        ),
        restore=extend_schema(
            operation_id="tasks_restore",
            summary="Restore a deleted task",
            description="Takes the task out of the trash (`?deleted=true`) with the subtasks deleted with it: they are "
            "live again, as they were when deleted. It goes back under its parent if that task is live and the nesting "
            "rules still allow it there, else to the top level (`parent_id` null). It takes back its old `position` "
            "unless another task of its list has taken that place meanwhile, or it goes to another list: then it goes "
            "to the top. A task that is not in the trash (a live one, or one purged) is a 404.",
            parameters=[DELETED_TASK_ID, IF_MATCH, ETAG],
            request=None,
            responses={200: TaskSerializer},
        ),
        batch=extend_schema(
            operation_id="tasks_batch",
            summary="Run many task operations",
            description=(
                f"Up to {settings.API_MAX_BATCH_OPERATIONS} operations (create, update, partial_update, complete, "
                "delete, restore, move), in order, each run exactly as its single request would be and counted "
                "against the rate limit as one request. A later operation names the task of an earlier one by its "
                f'`ref` (`"id": "$ref:<ref>"`, a ref being 1 to {REF_MAX_LENGTH} letters, digits or `._:-`), and so '
                'may a move\'s `before` or `after` (`"data": {"after": "$ref:<ref>"}`). A malformed batch (an '
                "unknown field or op, a missing id, an unknown or repeated ref) is a 400 naming "
                "`operations.<index>.<field>`, and nothing runs.\n\n"
                "Not atomic (the default): a 200 with each operation's result, failures included. "
                '`"atomic": true`: all or nothing; the first failing operation rolls every one back and its own '
                "answer is the batch's, each error's `attr` naming it (`operations.<index>`, or "
                "`operations.<index>.data.<field>`). The body may be up to 1 MiB."
            ),
            request=BatchSerializer,
            responses={200: BatchResponseSerializer, 400: BATCH_400},
            examples=[
                OpenApiExample("A batch", value=BATCH_EXAMPLE, request_only=True),
                OpenApiExample("Its results", value=BATCH_RESULTS_EXAMPLE, response_only=True, status_codes=["200"]),
            ],
        ),
    )(viewset)
    viewset = extend_schema(tags=["tasks"], parameters=[USER_ID, *ERROR_HEADERS])(viewset)
    return viewset
