"""How the JWT authentication appears in the OpenAPI schema: a Bearer scheme, and the 401 it answers with."""

from __future__ import annotations

from typing import Any

from django.db import models
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_standardized_errors.openapi_serializers import ClientErrorEnum
from rest_framework import exceptions

from common.schema import error_response_serializer

from .exceptions import TokenExpired, TokenInvalid


class BetterAuthJWTScheme(OpenApiAuthenticationExtension):
    """``BetterAuthJWTAuthentication`` as an HTTP Bearer scheme: Swagger UI's "Authorize" takes the bare token."""

    # A dotted path: the extension is registered without importing the authentication class.
    target_class = "authjwt.authentication.BetterAuthJWTAuthentication"
    name = "BearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class ErrorCode401Enum(models.TextChoices):
    """The codes a 401 can carry; drf-standardized-errors' default list knows none of ours but the first."""

    NOT_AUTHENTICATED = exceptions.NotAuthenticated.default_code
    TOKEN_EXPIRED = TokenExpired.default_code
    TOKEN_INVALID = TokenInvalid.default_code


ErrorResponse401Serializer = error_response_serializer(401, ErrorCode401Enum, ClientErrorEnum)
