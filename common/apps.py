"""App configurations that wire the project's own versions of Django's apps."""

from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class ThrottledAdminConfig(AdminConfig):
    """Django's admin, with the project's site: a throttled, watched login (common/admin.py)."""

    default_site = "common.admin.ThrottledAdminSite"

    def ready(self) -> None:
        super().ready()
        # Connects the login-failure and lockout receivers, whether or not anything has touched admin.site yet.
        from . import admin  # noqa: F401


class CommonConfig(AppConfig):
    """common/ as an app of its own: the home of the tables every app shares (``models``), with its migrations
    apart from any app's, so that no app's migration history has to make room for them."""

    name = "common"
    default_auto_field = "django.db.models.BigAutoField"
