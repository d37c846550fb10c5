"""The project's admin site: titled as the Task API's, with its own forbidden page, and a login throttled per client
address before any password is checked, locked out per username and per address by django-axes, and every failure
and lockout on the security log. A refused login is the login page saying why, with a 429: staff meet it in a browser.

Why a subclass of Django's AdminSite: ``AdminSite.login`` is Django's own hook for the one view every admin password
guess goes through. A middleware would have to recognise the login URL itself; django-axes' backend answers only inside
``authenticate()``, after the form is parsed and a database query made. The throttle here answers first, with one
cache round trip and a 429, so a flood of guesses never reaches the password hasher.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .throttling import AdminLoginThrottle, client_address, count_refusal

security_log = logging.getLogger("todo.security")

LOGIN_THROTTLED = "Too many login attempts from this address. Wait a minute, then try again."


def login_locked_out_message() -> str:
    minutes = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    return (
        "Too many failed logins for this username or from this address: logins are refused for "
        f"{minutes} minutes after the last attempt. Try again later, or ask an administrator to unlock it."
    )


class AdminLoginForm(AdminAuthenticationForm):
    """Django's admin login form, which shows the reason a login was refused instead of checking the password."""

    def clean(self) -> dict[str, Any]:
        refusal = getattr(self.request, "login_refusal", None)
        if refusal is not None:
            raise ValidationError(refusal, code="login_refused")
        return super().clean()


class ThrottledAdminSite(admin.AdminSite):
    """Django's admin site, whose login refuses POSTs over ADMIN_LOGIN_THROTTLE_RATE per client address."""

    site_header = "Task API administration"
    site_title = "Task API admin"
    # Django's default, "/", is no page here: "View site" opens the API's documentation.
    site_url = "/api/docs/"
    login_form = AdminLoginForm

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "POST":
            throttle = AdminLoginThrottle()
            if not throttle.allow_request(request, None):
                security_log.warning("admin login throttled: client=%s", client_address(request))
                return self.refused_login(request, LOGIN_THROTTLED, throttle.wait())
        return super().login(request, extra_context)

    def refused_login(self, request: HttpRequest, reason: str, wait: float | None) -> HttpResponse:
        """The login page with ``reason`` on its form, as a 429: no password is checked."""
        request.login_refusal = reason
        # Rendered now: django-axes answers from its middleware, after the view's responses are rendered.
        response = super().login(request).render()
        response.status_code = 429
        if wait is not None:
            response["Retry-After"] = str(math.ceil(wait))
        return response

    def forbidden(self, request: HttpRequest) -> HttpResponse:
        """The admin's page for a page the signed-in staff member may not open (a 403)."""
        return render(request, "admin/forbidden.html", {**self.each_context(request), "title": "Forbidden"}, status=403)


def locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None) -> HttpResponse:
    """django-axes' answer to a locked-out login (AXES_LOCKOUT_CALLABLE): the login page saying so, a 429."""
    return admin.site.refused_login(request, login_locked_out_message(), settings.AXES_COOLOFF_TIME.total_seconds())


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
