"""App configurations that wire the project's own versions of Django's apps."""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class ThrottledAdminConfig(AdminConfig):
    """Django's admin, with the project's site: a throttled, watched login (common/admin.py)."""

    default_site = "common.admin.ThrottledAdminSite"

    def ready(self) -> None:
        super().ready()
        # Connects the login-failure and lockout receivers, whether or not anything has touched admin.site yet.
        from . import admin  # noqa: F401
