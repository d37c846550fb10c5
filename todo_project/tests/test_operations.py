"""Probes, throttling, CORS and security headers, through the test client."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from conftest import ALICE, BOB, client_for
from todo_project.tests.servers import ROOT


@pytest.fixture
def low_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    # DRF binds the rates to the throttle classes at import, so settings overrides don't reach them.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "3/minute"})


def test_health_answers_without_touching_the_database(db: None, client: Any, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_checks_the_database_and_the_cache(db: None, client: Any) -> None:
    response = client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


def test_probes_are_never_throttled(db: None, client: Any, low_rates: None) -> None:
    assert {client.get(path).status_code for path in ["/health", "/ready"] * 5} == {200}


def test_each_user_has_their_own_request_budget(alice: APIClient, bob: APIClient, low_rates: None) -> None:
    statuses = [alice.get(f"/api/{ALICE}/tasks/").status_code for _ in range(4)]
    response = alice.get(f"/api/{ALICE}/tasks/")

    assert statuses == [200, 200, 200, 429]
    assert response.status_code == 429
    assert response.json()["errors"][0]["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60
    assert bob.get(f"/api/{BOB}/tasks/").status_code == 200


def test_failed_authentication_counts_against_the_client_address(db: None, low_rates: None) -> None:
    junk = APIClient()
    junk.credentials(HTTP_AUTHORIZATION="Bearer junk")

    statuses = [junk.get(f"/api/{ALICE}/tasks/").status_code for _ in range(3)]
    statuses += [APIClient().get(f"/api/{ALICE}/tasks/").status_code]

    assert statuses == [401, 401, 401, 429]
    assert client_for(ALICE).get(f"/api/{ALICE}/tasks/").status_code == 200


def test_x_forwarded_for_is_ignored_unless_proxies_are_configured(db: None, low_rates: None, settings: Any) -> None:
    def failures_from(address: str) -> int:
        return APIClient().get(f"/api/{ALICE}/tasks/", HTTP_X_FORWARDED_FOR=address).status_code

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    assert [failures_from(f"10.0.0.{n}") for n in range(4)] == [401, 401, 401, 429]

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert [failures_from(f"10.0.1.{n}") for n in range(4)] == [401] * 4


def test_behind_the_edge_each_address_it_appends_is_counted_alone(db: None, low_rates: None) -> None:
    # The default (API_NUM_PROXIES=1) trusts the edge's own entry, the last one: a forged first one is no escape.
    def failure(forged: str, client: str) -> int:
        return APIClient().get(f"/api/{ALICE}/tasks/", HTTP_X_FORWARDED_FOR=f"{forged}, {client}").status_code

    first_client = [failure(f"10.0.2.{n}", "192.0.2.1") for n in range(4)]
    second_client = failure("10.0.2.9", "192.0.2.2")

    assert first_client == [401, 401, 401, 429]
    assert second_client == 401


@pytest.fixture
def front_end_origin(settings: Any) -> str:
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    return "https://app.example.com"


def test_cors_preflight_allows_the_front_end_to_send_a_token(db: None, client: Any, front_end_origin: str) -> None:
    response = client.options(
        f"/api/{ALICE}/tasks/",
        HTTP_ORIGIN=front_end_origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == front_end_origin
    assert {"authorization", "content-type"} <= {
        header.strip() for header in response["Access-Control-Allow-Headers"].split(",")
    }
    assert "POST" in response["Access-Control-Allow-Methods"]


def test_cors_lets_the_front_end_make_conditional_requests(alice: APIClient, front_end_origin: str) -> None:
    preflight = alice.options(
        f"/api/{ALICE}/tasks/1/",
        HTTP_ORIGIN=front_end_origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, if-match, if-none-match",
    )
    response = alice.get(f"/api/{ALICE}/tasks/", HTTP_ORIGIN=front_end_origin)

    allowed = {header.strip() for header in preflight["Access-Control-Allow-Headers"].split(",")}
    assert {"if-match", "if-none-match"} <= allowed
    exposed = {header.strip().lower() for header in response["Access-Control-Expose-Headers"].split(",")}
    assert {"etag", "location", "retry-after", "x-request-id"} <= exposed


def test_other_origins_get_no_cors_headers(db: None, client: Any, front_end_origin: str) -> None:
    response = client.options(
        f"/api/{ALICE}/tasks/", HTTP_ORIGIN="https://evil.example.com", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )

    assert not any(header.lower().startswith("access-control-") for header in response.headers)


def test_responses_carry_the_security_headers(db: None, client: Any) -> None:
    response = client.get("/health")

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


TLS_ENV = {
    "DJANGO_SECURE_SSL_REDIRECT": "1",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "DJANGO_SECURE_HSTS_PRELOAD": "1",
    "DJANGO_SECURE_COOKIES": "1",
}


def check_deploy(**env: str) -> subprocess.CompletedProcess:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")}
    secrets = {
        "DJANGO_SECRET_KEY": "x8#Lq!v2Zr9@Wm4$Tn6^Yp1&Kc3*Hb5(Gd7)Fe0-Sj+Ua=Ri_Ow8~Ep2%Vt",
        "BETTER_AUTH_SECRET": "s" * 64,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, **secrets, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_with_the_tls_settings_on() -> None:
    result = check_deploy(**TLS_ENV)

    assert result.returncode == 0, result.stderr + result.stdout


def test_check_deploy_flags_a_deployment_without_them() -> None:
    result = check_deploy()

    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout


def test_refusals_for_another_users_path_count_against_the_token_user(
    alice: APIClient, bob: APIClient, low_rates: None
) -> None:
    statuses = [alice.get(f"/api/{BOB}/tasks/").status_code for _ in range(4)]
    response = alice.get(f"/api/{ALICE}/tasks/")

    assert statuses == [403, 403, 403, 429]
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert bob.get(f"/api/{BOB}/tasks/").status_code == 200


def test_unknown_urls_count_against_the_client_address(db: None, low_rates: None) -> None:
    scanner = APIClient()

    statuses = [scanner.get(f"/wp-admin/{n}.php").status_code for n in range(3)]
    response = scanner.get("/.env")

    assert statuses == [404, 404, 404]
    assert response.status_code == 429
    assert response.json() == {
        "type": "client_error",
        "errors": [{"code": "throttled", "detail": response.json()["errors"][0]["detail"], "attr": None}],
    }
    assert 0 < int(response["Retry-After"]) <= 60
    assert APIClient().get(f"/api/{ALICE}/tasks/").status_code == 429
    assert client_for(ALICE).get(f"/api/{ALICE}/tasks/").status_code == 200
