"""OpenAPI components for error responses that drf-standardized-errors does not describe by itself."""

from __future__ import annotations

from django.db import models
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ServerErrorEnum
from rest_framework import serializers

from .errors import DatabaseUnavailable, PreconditionFailed, RequestTooLarge


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


class ErrorCode413Enum(models.TextChoices):
    REQUEST_TOO_LARGE = RequestTooLarge.default_code


class ErrorCode503Enum(models.TextChoices):
    SERVICE_UNAVAILABLE = DatabaseUnavailable.default_code


ErrorResponse412Serializer = error_response_serializer(412, ErrorCode412Enum, ClientErrorEnum)
ErrorResponse413Serializer = error_response_serializer(413, ErrorCode413Enum, ClientErrorEnum)
ErrorResponse503Serializer = error_response_serializer(503, ErrorCode503Enum, ServerErrorEnum)
