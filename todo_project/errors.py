"""One JSON error shape everywhere: drf-standardized-errors' for DRF views, the same for Django's own errors."""
from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from drf_standardized_errors.handler import ExceptionHandler
from drf_standardized_errors.settings import package_settings
from rest_framework import exceptions, status
from rest_framework.response import Response

security_log = logging.getLogger("todo.security")


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class ApiExceptionHandler(ExceptionHandler):
    """drf-standardized-errors' handler, plus a 413 for oversized bodies and one security-log line per refused request."""

    def convert_known_exceptions(self, exc: Exception) -> Exception:
        # Django raises this past DATA_UPLOAD_MAX_MEMORY_SIZE; left alone it would be a 500.
        if isinstance(exc, RequestDataTooBig):
            return RequestTooLarge()
        return super().convert_known_exceptions(exc)

    def report_exception(self, exc: exceptions.APIException, response: Response) -> None:
        if response.status_code in (401, 403):
            request = self.context["request"]
            code = response.data["errors"][0]["code"]
            security_log.warning(
                "request refused: status=%s code=%s reason=%r path=%r client=%s",
                response.status_code,
                code,
                getattr(exc, "reason", str(exc.detail)),
                request.path,
                request.META.get("REMOTE_ADDR"),
            )
        super().report_exception(exc, response)


def _error_response(exc: exceptions.APIException) -> JsonResponse:
    body = package_settings.EXCEPTION_FORMATTER_CLASS(exc, {}, exc).run()
    return JsonResponse(body, status=exc.status_code)


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    return _error_response(exceptions.ParseError("Bad request."))


def permission_denied(request: HttpRequest, exception: Exception) -> JsonResponse:
    return _error_response(exceptions.PermissionDenied())


def page_not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    return _error_response(exceptions.NotFound())


def server_error(request: HttpRequest) -> JsonResponse:
    return _error_response(exceptions.APIException("Server Error (500)"))
