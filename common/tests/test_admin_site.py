"""The admin site's own pages: titled as the Task API's, and a page in the admin for a page staff may not open."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory

from common.errors import permission_denied


def test_the_admin_is_titled_as_the_task_apis_admin(support: Client) -> None:
    page = support.get("/admin/").content.decode()

    assert "Site administration | Task API admin</title>" in page
    assert ">Task API administration</a>" in page
    assert "Django administration" not in page
    assert '<a href="/api/docs/">View site</a>' in page


@pytest.mark.parametrize("path", ["/admin/auth/user/", "/admin/auth/group/1/change/", "/admin/axes/accessattempt/"])
def test_a_page_support_may_not_open_is_the_admins_forbidden_page(support: Client, path: str) -> None:
    response = support.get(path)

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Forbidden | Task API admin</title>" in page
    assert "You do not have permission to open this page." in page
    assert "ask an administrator to add the permission" in page
    # The admin's own navigation, to go on working.
    assert 'href="/admin/"' in page


def test_a_refusal_outside_the_admin_stays_json(db: None) -> None:
    response = permission_denied(RequestFactory().get("/health"), PermissionDenied())

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
