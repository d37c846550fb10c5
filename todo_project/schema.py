"""The OpenAPI schema as people and machines read it: true error examples, the task components first, and a
variant for the docs pages with sentences where the served schema has constraints only a machine reads."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample
from drf_standardized_errors.openapi_utils import get_example_from_exception
from rest_framework import exceptions

from authjwt.exceptions import TokenExpired, TokenInvalid
from common.errors import (
    NO_CREDENTIALS,
    SERVER_ERROR_DETAIL,
    UNREADABLE_BODY,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
)
from common.idempotency import KEY_PATTERN
from common.schema import IdempotencyKeyAutoSchema
from tasks.batch import REF_SCHEMA_PATTERN, TASK_REF_PATTERN
from tasks.conditional import IF_MATCH_PATTERN
from tasks.datetimes import DATE_TIME_PATTERN
from tasks.filters import PARENT_PATTERN
from tasks.permissions import IsOwner
from tasks.recurrence import RULE_PATTERN
from tasks.schema import NOT_BOTH_NEIGHBOURS
from tasks.text import CONTAINS_NUL, TAG_PATTERN, TEXT_PATTERN

# What the API answers, detail for detail (drf-standardized-errors' own examples are DRF's defaults: a 401
# `authentication_failed` it never sends, a 403 with another message). No 405 example: an operation's own
# method is never refused.
ERROR_EXAMPLES = [
    get_example_from_exception(error)
    for error in (
        exceptions.NotAuthenticated(NO_CREDENTIALS.format(scheme="Bearer")),
        TokenExpired(),
        TokenInvalid(reason=""),
        exceptions.PermissionDenied(IsOwner.message),
        exceptions.NotFound(),
        exceptions.NotAcceptable(),
        exceptions.UnsupportedMediaType(
            "text/plain", detail=UNREADABLE_BODY.format(readable="application/json", sent='"text/plain" is')
        ),
        exceptions.Throttled(wait=42),
        IdempotencyKeyInUse(),
        IdempotencyKeyReused(),
        exceptions.APIException(SERVER_ERROR_DETAIL),
    )
]
BODY_METHODS = {"POST", "PUT", "PATCH"}


class ErrorExamplesAutoSchema(IdempotencyKeyAutoSchema):
    """drf-standardized-errors' schema, with Idempotency-Key where it is taken and ERROR_EXAMPLES for its error
    responses."""

    def _get_error_response_examples(self) -> list[OpenApiExample]:
        statuses = set(self._get_allowed_error_status_codes())
        if self.method not in BODY_METHODS or self.get_request_serializer() is None:
            statuses.discard("415")  # only a body has a media type to refuse (…/restore/ takes none)
        return [example for example in ERROR_EXAMPLES if statuses.intersection(example.status_codes)]


# The schemas an integrator looks for, first; the error components after them, in name order.
FIRST_COMPONENTS = ["Task", "TaskRequest", "PatchedTaskRequest", "PatchedTaskCompletionRequest", "PaginatedTaskList"]


def tasks_first(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: FIRST_COMPONENTS lead the schemas, which drf-spectacular sorts by name."""
    schemas = result["components"]["schemas"]
    first = {name: schemas[name] for name in FIRST_COMPONENTS if name in schemas}
    result["components"]["schemas"] = first | {name: schema for name, schema in schemas.items() if name not in first}
    return result


# Kept in the served schema, where clients and schemathesis check them; each field's description says them
# in words, and that is what the docs pages show instead of a regular expression.
MACHINE_ONLY_PATTERNS = {
    TEXT_PATTERN,
    TAG_PATTERN,
    DATE_TIME_PATTERN,
    IF_MATCH_PATTERN,
    KEY_PATTERN,
    REF_SCHEMA_PATTERN,
    TASK_REF_PATTERN,
    PARENT_PATTERN,
    RULE_PATTERN,
}


def _machine_only(key: str, value: Any) -> bool:
    if key == "pattern":
        return value in MACHINE_ONLY_PATTERNS
    return key == "not" and value in ({"pattern": CONTAINS_NUL}, NOT_BOTH_NEIGHBOURS)


def for_people(result: Any, **kwargs: Any) -> Any:
    """Postprocessing hook of the docs pages' schema: the served one without its machine-only constraints."""
    if isinstance(result, dict):
        return {key: for_people(value) for key, value in result.items() if not _machine_only(key, value)}
    if isinstance(result, list):
        return [for_people(item) for item in result]
    return result
