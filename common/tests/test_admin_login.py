"""The admin login: locked out per username and per address, throttled before any password hash, and watched."""

from __future__ import annotations

import html
import logging
import re
from io import StringIO
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.management import call_command
from django.test import Client
from rest_framework.throttling import SimpleRateThrottle

LOGIN = "/admin/login/"
PASSWORD = "correct horse battery staple"
LIMIT = 5  # ADMIN_LOGIN_FAILURE_LIMIT's default


class CountingHasher(MD5PasswordHasher):
    """Counts every hash computed, to show which logins never reach one."""

    algorithm = "counting_md5"
    calls = 0

    def encode(self, password: str, salt: str) -> str:
        CountingHasher.calls += 1
        return super().encode(password, salt)


@pytest.fixture(autouse=True)
def _rates(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Rates high enough that only the lockout acts, unless a test lowers one."""
    rates = {"anon": "1000/minute", "user": "1000/minute", "admin_login": "1000/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    return rates


@pytest.fixture(autouse=True)
def hashes(settings: Any) -> type[CountingHasher]:
    # Also spares these tests the real hasher's deliberate slowness.
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.calls = 0
    return CountingHasher


@pytest.fixture
def staff(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("sam", password=PASSWORD, is_staff=True)


def login(username: str, password: str, address: str = "203.0.113.7", **headers: str) -> Any:
    client = Client()
    response = client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **headers)
    response.signed_in = client.get("/admin/").status_code == 200
    return response


def refusal(response: Any) -> str:
    """The reason the admin's login page gives on its form, as staff read it."""
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    [error] = re.findall(r'<p class="errornote">\s*(.*?)\s*</p>', response.content.decode(), re.DOTALL)
    return html.unescape(error)


def test_the_right_password_signs_in(staff: Any) -> None:
    assert login("sam", PASSWORD).signed_in


def test_a_refused_login_is_the_admins_login_page_keeping_the_username(staff: Any) -> None:
    for _ in range(LIMIT):
        login("sam", "wrong")

    response = login("sam", PASSWORD)

    page = response.content.decode()
    assert "Log in | Task API admin</title>" in page
    assert 'name="username" value="sam"' in page
    assert PASSWORD not in page


def test_it_refuses_the_right_password_after_sixty_wrong_ones(staff: Any) -> None:
    for _ in range(60):
        login("sam", "wrong")

    response = login("sam", PASSWORD)

    assert refusal(response).startswith("Too many failed logins for this username or from this address")
    assert "refused for 15 minutes after the last attempt" in refusal(response)
    assert int(response["Retry-After"]) == 15 * 60
    assert not response.signed_in


def test_it_locks_out_an_address_across_usernames(staff: Any) -> None:
    for n in range(LIMIT):
        login(f"guess{n}", "wrong", address="198.51.100.1")

    assert login("sam", PASSWORD, address="198.51.100.1").status_code == 429
    assert login("sam", PASSWORD, address="198.51.100.2").signed_in


def test_it_locks_out_a_username_across_addresses(staff: Any, django_user_model: Any) -> None:
    django_user_model.objects.create_user("kim", password=PASSWORD, is_staff=True)
    for n in range(LIMIT):
        login("sam", "wrong", address=f"198.51.100.{n + 1}")

    assert login("sam", PASSWORD, address="192.0.2.99").status_code == 429
    # Each address failed only once: another account from one of them is unaffected.
    assert login("kim", PASSWORD, address="198.51.100.1").signed_in


def test_failures_below_the_limit_do_not_lock_out(staff: Any) -> None:
    for _ in range(LIMIT - 1):
        login("sam", "wrong")

    assert login("sam", PASSWORD).signed_in


def test_the_limit_is_a_setting(staff: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    login("sam", "wrong")
    login("sam", "wrong")

    assert login("sam", PASSWORD).status_code == 429


def test_axes_reset_username_unlocks_a_username(staff: Any) -> None:
    for n in range(LIMIT):
        login("sam", "wrong", address=f"198.51.100.{n + 1}")
    assert login("sam", PASSWORD).status_code == 429

    call_command("axes_reset_username", "sam", stdout=StringIO())

    assert login("sam", PASSWORD).signed_in


def test_axes_reset_ip_unlocks_an_address(staff: Any) -> None:
    for n in range(LIMIT):
        login(f"guess{n}", "wrong", address="198.51.100.1")
    assert login("sam", PASSWORD, address="198.51.100.1").status_code == 429

    call_command("axes_reset_ip", "198.51.100.1", stdout=StringIO())

    assert login("sam", PASSWORD, address="198.51.100.1").signed_in


def test_a_locked_out_login_computes_no_password_hash(hashes: type[CountingHasher], django_user_model: Any) -> None:
    django_user_model.objects.create_user("sam", password=PASSWORD, is_staff=True)
    for _ in range(LIMIT):
        login("sam", "wrong")
    before = hashes.calls

    for _ in range(20):
        assert login("sam", "wrong").status_code == 429
    assert login("nobody", "wrong").status_code == 429  # an unknown username hashes too, when it gets through

    assert hashes.calls == before


def test_each_failure_and_lockout_is_logged_without_the_password(staff: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="todo.security"):
        for _ in range(LIMIT):
            login("sam", "hunter2-wrong")

    messages = [record.getMessage() for record in caplog.records if record.name == "todo.security"]
    failures = [message for message in messages if message.startswith("admin login failed")]
    lockouts = [message for message in messages if message.startswith("admin login locked out")]
    assert len(failures) == LIMIT
    assert len(lockouts) == 1
    assert all("'sam'" in message and "203.0.113.7" in message for message in failures + lockouts)
    assert "hunter2" not in caplog.text
    # django-axes keeps the form's fields with each attempt: the password masked.
    assert "hunter2" not in AccessAttempt.objects.get(username="sam").post_data


def test_login_posts_over_the_rate_get_a_429_before_any_password_hash(
    hashes: type[CountingHasher], staff: Any, _rates: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    _rates["admin_login"] = "3/minute"
    for n in range(3):
        login(f"guess{n}", "wrong")  # three different usernames: the lockout is not what answers
    before = hashes.calls

    with caplog.at_level(logging.WARNING, logger="todo.security"):
        response = login("sam", PASSWORD)

    assert refusal(response) == "Too many login attempts from this address. Wait a minute, then try again."
    assert int(response["Retry-After"]) > 0
    assert not response.signed_in
    assert hashes.calls == before
    assert "admin login throttled: client=203.0.113.7" in caplog.text
    # Another address still gets in.
    assert login("sam", PASSWORD, address="192.0.2.1").signed_in


def test_the_login_page_itself_is_not_throttled(_rates: dict[str, str]) -> None:
    _rates["admin_login"] = "1/minute"
    client = Client()

    assert all(client.get(LOGIN).status_code == 200 for _ in range(5))


def test_failed_logins_count_against_the_address_anonymous_api_throttle(staff: Any, _rates: dict[str, str]) -> None:
    _rates["anon"] = "3/minute"
    for n in range(3):
        login(f"guess{n}", "wrong")

    response = Client().get("/api/someone/tasks/", REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 429
    assert Client().get("/api/someone/tasks/", REMOTE_ADDR="192.0.2.1").status_code == 401


def test_the_address_is_the_one_the_api_throttle_trusts_from_x_forwarded_for(staff: Any, settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # One proxy (nginx) connecting from 10.0.0.1, each client's address appended last.
    for n in range(LIMIT):
        login(f"guess{n}", "wrong", address="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.1")

    assert login("sam", PASSWORD, address="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429
    assert login("sam", PASSWORD, address="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.2").signed_in


def test_without_trusted_proxies_x_forwarded_for_is_ignored(staff: Any, settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    for n in range(LIMIT):
        login(f"guess{n}", "wrong", address="198.51.100.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")

    assert login("sam", PASSWORD, address="198.51.100.1", HTTP_X_FORWARDED_FOR="192.0.2.200").status_code == 429


def test_a_forwarded_entry_that_is_no_address_is_no_server_error(staff: Any, settings: Any) -> None:
    # Two proxies configured, one really in front: the client writes the entry that is trusted.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 2}

    response = login("sam", "wrong", address="10.0.0.1", HTTP_X_FORWARDED_FOR="not-an-address, 198.51.100.1")

    assert response.status_code == 200


def test_an_administrator_can_unlock_by_deleting_the_access_attempts_in_the_admin(
    staff: Any, django_user_model: Any
) -> None:
    for _ in range(LIMIT):
        login("sam", "wrong")
    assert login("sam", PASSWORD).status_code == 429
    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser("root"))

    page = admin.get("/admin/axes/accessattempt/?q=sam")
    [attempt_id] = page.context["cl"].result_list.values_list("pk", flat=True)
    deleted = admin.post(f"/admin/axes/accessattempt/{attempt_id}/delete/", {"post": "yes"})

    assert deleted.status_code == 302
    assert login("sam", PASSWORD).signed_in
