"""One JSON error shape everywhere: drf-standardized-errors' for DRF views, the same for Django's own errors."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib import admin
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import resolve, reverse
from django.views import csrf
from django.views.decorators.csrf import csrf_exempt
from drf_standardized_errors.handler import ExceptionHandler
from drf_standardized_errors.settings import package_settings
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from .throttling import UNCOUNTED_REFUSALS, client_address, count_refusal

security_log = logging.getLogger("todo.security")
error_log = logging.getLogger("django.request")
# What a lost, refused or timed-out database connection raises: the request may succeed if retried.
DATABASE_DOWN = (OperationalError, InterfaceError)


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The task has changed since you read it: fetch it again and retry."
    default_code = "precondition_failed"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was already used for a different request (method, URL, If-Match or body): "
        "repeat that request exactly to get its answer again, or send this one with a new key."
    )
    default_code = "idempotency_key_reused"


class IdempotencyKeyInUse(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = (
        "A request with this Idempotency-Key is still being processed: retry it unchanged in a moment "
        "to get its answer."
    )
    default_code = "idempotency_key_in_use"
    # Sent as Retry-After by the exception handler, as for a 429: the first request is usually done by then.
    wait = 1


class DatabaseUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable; try again shortly."
    default_code = "service_unavailable"


class StatementTimedOut(DatabaseUnavailable):
    default_detail = (
        "The request took longer than the database's statement timeout allows; "
        "narrow it (fewer search words or filters, a smaller page) or try again later."
    )


# PostgreSQL's SQLSTATE for a statement it cancelled: at DATABASE_STATEMENT_TIMEOUT (settings.py), or by an
# operator's pg_cancel_backend, for which the same advice holds.
QUERY_CANCELED = "57014"


def database_error(exc: Exception) -> DatabaseUnavailable:
    """The 503 for a database error: a statement cut off by the timeout says how to avoid it."""
    # Django wraps the driver's error, which it keeps as the cause.
    if getattr(exc.__cause__, "sqlstate", None) == QUERY_CANCELED:
        return StatementTimedOut()
    return DatabaseUnavailable()


# The details of the 415 and of a 401 without credentials (the schema's examples are written from them too).
UNREADABLE_BODY = 'Send the body as {readable}, with "Content-Type: {readable}": {sent} not read here.'
NO_CREDENTIALS = "Authentication credentials were not provided: send 'Authorization: {scheme} <token>'."


def unsupported_media_type(request: Request) -> exceptions.UnsupportedMediaType:
    """The 415 for a body the view cannot read, naming the media types it can."""
    readable = " or ".join(parser.media_type for parser in request.parsers)
    sent = f'"{request.content_type}" is' if request.content_type else "a body without a Content-Type is"
    detail = UNREADABLE_BODY.format(readable=readable, sent=sent)
    return exceptions.UnsupportedMediaType(request.content_type, detail=detail)


def how_to_authenticate(exc: exceptions.NotAuthenticated, request: Request) -> exceptions.NotAuthenticated:
    """The 401 for a request without credentials the view takes, saying what to send: the scheme its
    ``WWW-Authenticate`` names (DRF set it from the view's first authenticator)."""
    scheme = exc.auth_header.split()[0]
    if "Authorization" in request.headers:
        # Never the header's value: without a scheme, its first word is the token itself.
        detail = f"Send the token as 'Authorization: {scheme} <token>': no other scheme is accepted."
    else:
        detail = NO_CREDENTIALS.format(scheme=scheme)
    advised = exceptions.NotAuthenticated(detail)
    advised.auth_header = exc.auth_header
    return advised


class ApiExceptionHandler(ExceptionHandler):
    """drf-standardized-errors' handler, plus a 413 for oversized bodies, refusals counted by the
    throttles (throttling.py) and one security-log line per refused request."""

    def convert_known_exceptions(self, exc: Exception) -> Exception:
        # Django raises this past DATA_UPLOAD_MAX_MEMORY_SIZE; left alone it would be a 500.
        if isinstance(exc, RequestDataTooBig):
            return RequestTooLarge()
        # E.g. more than DATA_UPLOAD_MAX_NUMBER_FIELDS query parameters: the client's doing, not a 500.
        if isinstance(exc, SuspiciousOperation):
            return exceptions.ParseError("The request is malformed.")
        # Logged by the package as one line on django.request, its message the detail: never the SQL.
        if isinstance(exc, DATABASE_DOWN):
            return database_error(exc)
        if isinstance(exc, exceptions.UnsupportedMediaType):
            return unsupported_media_type(self.context["request"])
        if isinstance(exc, UNCOUNTED_REFUSALS):
            throttled = count_refusal(self.context["request"], self.context["view"])
            if throttled is not None:
                return throttled
        # After the count: a refusal past the throttle's rate is a 429, whatever it would have said.
        if isinstance(exc, exceptions.NotAuthenticated) and getattr(exc, "auth_header", None):
            return how_to_authenticate(exc, self.context["request"])
        return super().convert_known_exceptions(exc)

    def report_exception(self, exc: exceptions.APIException, response: Response) -> None:
        if response.status_code in (401, 403, 429):
            request = self.context["request"]
            code = response.data["errors"][0]["code"]
            security_log.warning(
                "request refused: status=%s code=%s reason=%r path=%r client=%s",
                response.status_code,
                code,
                getattr(exc, "reason", str(exc.detail)),
                request.path,
                # The address the throttles count: behind the edge, REMOTE_ADDR is its socket's (empty).
                client_address(request),
            )
        super().report_exception(exc, response)

    def get_response(self, exc: exceptions.APIException, data: dict) -> Response:
        # Errors are JSON on every DRF view, whatever it renders otherwise: the docs views' HTML renderer
        # would answer "404 Not Found" as text, the schema view's YAML.
        request = self.context["request"]
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().get_response(exc, data)


class DatabaseUnavailableMiddleware:
    """A 503 in the error shape when the database fails outside DRF's handling (e.g. the admin's)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> JsonResponse | None:
        if not isinstance(exception, DATABASE_DOWN):
            return None
        error = database_error(exception)
        error_log.error("%s: %s", error.detail, request.path, exc_info=exception)
        return error_response(error)


def error_response(exc: exceptions.APIException) -> JsonResponse:
    body = package_settings.EXCEPTION_FORMATTER_CLASS(exc, {}, exc).run()
    response = JsonResponse(body, status=exc.status_code)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        response["Retry-After"] = str(exc.wait)
    return response


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    return error_response(exceptions.ParseError("Bad request."))


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    # Staff meet the admin's refusals in a browser: a page in the admin, not JSON.
    if in_admin(request):
        return admin.site.forbidden(request)
    return error_response(exceptions.PermissionDenied())


def page_not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    # Outside DRF, so never throttled by it: a scan of unknown URLs counts like any other request.
    return error_response(count_refusal(request) or exceptions.NotFound())


@csrf_exempt
def api_not_found(request: HttpRequest) -> HttpResponse:
    """The last route under /api/: an unknown URL there is the JSON 404 even with DEBUG on, where Django would
    answer an unmatched URL with its HTML technical page."""
    # CommonMiddleware redirects to the URL with a slash only when this one matches nothing, which this route
    # prevents: the docs (/api/docs → /api/docs/) keep their redirect here.
    if request.method in ("GET", "HEAD") and not request.path_info.endswith("/"):
        if resolve(f"{request.path_info}/").func is not api_not_found:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    return page_not_found(request, Http404())


# Every unexpected error's detail, inside DRF's views and out (the schema's 500 example shows it too).
SERVER_ERROR_DETAIL = "Server Error (500)"


def server_error(request: HttpRequest) -> JsonResponse:
    return error_response(exceptions.APIException(SERVER_ERROR_DETAIL))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A 403 in the error shape; the admin, which is HTML pages with forms, keeps Django's own page."""
    if in_admin(request):
        return csrf.csrf_failure(request, reason)
    # Only a Django view reached by an unsafe method without a CSRF cookie and token gets here (the API's
    # views take tokens, not cookies, and are exempt): e.g. POST /health.
    detail = f"CSRF verification failed: {reason} Outside /api/, API clients may only use GET and HEAD."
    return error_response(exceptions.PermissionDenied(detail))


def in_admin(request: HttpRequest) -> bool:
    return request.path.startswith(reverse("admin:index"))


def method_not_allowed(request: HttpRequest, allowed: list[str]) -> JsonResponse:
    """A 405 in the error shape, with the ``Allow`` header, for Django's own views."""
    response = error_response(exceptions.MethodNotAllowed(request.method))
    response["Allow"] = ", ".join(allowed)
    return response
