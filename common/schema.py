"""OpenAPI components for error responses that drf-standardized-errors does not describe by itself."""

from __future__ import annotations

from typing import Any

from django.db import models
from drf_spectacular.utils import OpenApiParameter
from drf_standardized_errors import openapi
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ServerErrorEnum
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS

from .errors import DatabaseUnavailable, IdempotencyKeyInUse, IdempotencyKeyReused, PreconditionFailed, RequestTooLarge
from .idempotency import HEADER, KEY_PATTERN, REPLAYED_HEADER, IdempotencyKeyMixin
from .models import IDEMPOTENCY_KEY_MAX_LENGTH


def error_response_serializer(
    status: int, codes: type[models.TextChoices], kind: type[models.TextChoices]
) -> type[serializers.Serializer]:
    """The project's error shape for one status, with exactly the codes that status can carry."""
    error = type(
        f"Error{status}Serializer",
        (serializers.Serializer,),
        {
            "code": serializers.ChoiceField(choices=codes.choices),
            "detail": serializers.CharField(),
            "attr": serializers.CharField(allow_null=True),
        },
    )
    return type(
        f"ErrorResponse{status}Serializer",
        (serializers.Serializer,),
        {"type": serializers.ChoiceField(choices=kind.choices), "errors": error(many=True)},
    )


class ErrorCode412Enum(models.TextChoices):
    PRECONDITION_FAILED = PreconditionFailed.default_code


class ErrorCode409Enum(models.TextChoices):
    IDEMPOTENCY_KEY_IN_USE = IdempotencyKeyInUse.default_code


class ErrorCode422Enum(models.TextChoices):
    IDEMPOTENCY_KEY_REUSED = IdempotencyKeyReused.default_code


class ErrorCode413Enum(models.TextChoices):
    REQUEST_TOO_LARGE = RequestTooLarge.default_code


class ErrorCode503Enum(models.TextChoices):
    SERVICE_UNAVAILABLE = DatabaseUnavailable.default_code


ErrorResponse409Serializer = error_response_serializer(409, ErrorCode409Enum, ClientErrorEnum)
ErrorResponse412Serializer = error_response_serializer(412, ErrorCode412Enum, ClientErrorEnum)
ErrorResponse413Serializer = error_response_serializer(413, ErrorCode413Enum, ClientErrorEnum)
ErrorResponse422Serializer = error_response_serializer(422, ErrorCode422Enum, ClientErrorEnum)
ErrorResponse503Serializer = error_response_serializer(503, ErrorCode503Enum, ServerErrorEnum)


IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH, "pattern": KEY_PATTERN},
    OpenApiParameter.HEADER,
    description="A key of the client's choosing (e.g. a UUID), new for each operation and the same for each "
    "retry of it: the first answer (status, body, `Location`, `ETag`) is kept for "
    "`IDEMPOTENCY_KEY_TTL_HOURS` (24 by default) and repeated to a retry with the same method, URL, "
    "`If-Match` and body, which then changes nothing. The same key with another request is a 422; while "
    "the first is still running, a 409 to retry. Keys are the token user's own. 1 to "
    f"{IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters, not starting or ending with a space.",
)
IDEMPOTENT_REPLAYED = OpenApiParameter(
    REPLAYED_HEADER,
    {"type": "string", "enum": ["true"]},
    OpenApiParameter.HEADER,
    # The answers a key keeps: any the handler gave but a 5xx. Refusals before the key is read (401, 403, 406, 429)
    # and the key's own 400, 409 and 422 are never kept.
    response=[200, 201, 204, 400, 404, 405, 412, 415],
    description="Present when this answer is the one kept for the request's `Idempotency-Key`, repeated.",
)
IDEMPOTENCY_STATUSES = {"409", "422"}


class IdempotencyKeyAutoSchema(openapi.AutoSchema):
    """drf-standardized-errors' schema, plus ``Idempotency-Key`` on every unsafe operation of a view that takes
    it (common/idempotency.py), whichever action it is: the header, the replay's mark, its 400, 409 and 422."""

    def _takes_idempotency_key(self) -> bool:
        return self.method not in SAFE_METHODS and isinstance(self.view, IdempotencyKeyMixin)

    def get_override_parameters(self) -> list[Any]:
        parameters = super().get_override_parameters()
        if self._takes_idempotency_key():
            return [*parameters, IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED]
        return parameters

    def _should_add_error_response(self, responses: dict, status_code: str) -> bool:
        if status_code in IDEMPOTENCY_STATUSES:
            return status_code not in responses and self._takes_idempotency_key()
        return super()._should_add_error_response(responses, status_code)

    def _should_add_validation_error_response(self) -> bool:
        return self._takes_idempotency_key() or super()._should_add_validation_error_response()

    def _get_extra_validation_errors(self) -> dict[str, set[str]]:
        errors = super()._get_extra_validation_errors()
        if self._takes_idempotency_key():
            errors[HEADER] = {"invalid_idempotency_key"}
        return errors
