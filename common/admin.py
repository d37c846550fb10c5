"""The admin site's login: throttled per client address before any password is checked, locked out per username
and per address by django-axes, and every failure and lockout on the security log.

Why a subclass of Django's AdminSite: ``AdminSite.login`` is Django's own hook for the one view every admin password
guess goes through. A middleware would have to recognise the login URL itself; django-axes' backend answers only inside
``authenticate()``, after the form is parsed and a database query made. The throttle here answers first, with one
cache round trip and a 429, so a flood of guesses never reaches the password hasher.
"""

from __future__ import annotations

import logging
from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions

from .errors import error_response
from .throttling import AdminLoginThrottle, client_address, count_refusal

security_log = logging.getLogger("todo.security")


class LoginLockedOut(exceptions.Throttled):
    default_detail = (
        "Too many failed logins for this username or from this address. Try again later, "
        "or ask an administrator to unlock it."
    )
    default_code = "login_locked_out"


class ThrottledAdminSite(admin.AdminSite):
    """Django's admin site, whose login refuses POSTs over ADMIN_LOGIN_THROTTLE_RATE per client address."""

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "POST":
            throttle = AdminLoginThrottle()
            if not throttle.allow_request(request, None):
                security_log.warning("admin login throttled: client=%s", client_address(request))
                return error_response(exceptions.Throttled(throttle.wait()))
        return super().login(request, extra_context)


def locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None) -> HttpResponse:
    """django-axes' answer to a locked-out login (AXES_LOCKOUT_CALLABLE): a 429 in the project's error shape."""
    return error_response(LoginLockedOut(settings.AXES_COOLOFF_TIME.total_seconds()))


@receiver(user_login_failed)
def _log_and_count_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if request is None:  # authenticate() called outside a request: nothing to count it against
        return
    # Django has already masked the password in credentials; only the username is logged.
    security_log.warning(
        "admin login failed: username=%r client=%s", credentials.get("username"), client_address(request)
    )
    # Counted against the address like any other refused request (errors.py does so for failed tokens).
    count_refusal(request)


@receiver(user_locked_out)
def _log_lockout(sender: Any, request: HttpRequest, username: str | None, ip_address: str, **kwargs: Any) -> None:
    security_log.warning("admin login locked out: username=%r client=%s", username, ip_address)
