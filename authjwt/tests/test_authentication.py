"""Which tokens get in, and how every other request is turned away."""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import Any

import jwt
import pytest
from django.conf import settings
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from authjwt.authentication import BetterAuthJWTAuthentication
from conftest import ALICE

URL = f"/api/{ALICE}/tasks/"


def sign(
    claims: dict[str, Any], *, key: str | None = None, algorithm: str = "HS256", headers: dict | None = None
) -> str:
    return jwt.encode(claims, key or settings.BETTER_AUTH_SECRET, algorithm=algorithm, headers=headers)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": ALICE, "iat": now, "exp": now + 600}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not ...}


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned(alg: str) -> str:
    return f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims())}."


def get(authorization: str | None = None, url: str = URL) -> Any:
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client.get(url)


def error_code(response: Any) -> str:
    return response.json()["errors"][0]["code"]


def test_it_accepts_a_valid_token(db: None) -> None:
    assert get(f"Bearer {sign(claims())}").status_code == 200


def test_the_scheme_name_is_case_insensitive(db: None) -> None:
    assert get(f"bearer {sign(claims())}").status_code == 200


def test_it_accepts_a_token_that_expired_within_the_leeway(db: None) -> None:
    assert get(f"Bearer {sign(claims(exp=int(time.time()) - 10))}").status_code == 200


def test_it_accepts_a_not_before_within_the_leeway(db: None) -> None:
    assert get(f"Bearer {sign(claims(nbf=int(time.time()) + 10))}").status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Basic YWxpY2U6c2VjcmV0", "Token abc", "JWT abc"],
    ids=["no header", "empty header", "basic", "token scheme", "jwt scheme"],
)
def test_it_asks_for_credentials_when_no_bearer_token_is_sent(db: None, authorization: str | None) -> None:
    response = get(authorization)

    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("authorization", ["Basic YWxpY2U6c2VjcmV0", "Token abc", "eyJhbGciOiJIUzI1NiJ9.e30.sig"])
def test_another_scheme_is_told_to_send_a_bearer_token(db: None, authorization: str) -> None:
    detail = get(authorization).json()["errors"][0]["detail"]

    assert "Authorization: Bearer <token>" in detail
    # Not echoed: a header without a scheme (the last case) would be a token.
    assert authorization.split()[0] not in detail


def test_a_request_without_credentials_is_told_what_to_send(db: None) -> None:
    assert "Authorization: Bearer <token>" in get().json()["errors"][0]["detail"]


def test_it_rejects_an_expired_token(db: None) -> None:
    response = get(f"Bearer {sign(claims(exp=int(time.time()) - 120))}")

    assert response.status_code == 401
    assert error_code(response) == "token_expired"
    assert response["WWW-Authenticate"].startswith("Bearer")


def _tampered() -> str:
    header, _, signature = sign(claims()).split(".")
    return f"{header}.{b64(claims(sub='someone-else'))}.{signature}"


BAD_TOKENS = {
    "bearer without token": "Bearer",
    "three parts": f"Bearer {sign(claims())} extra",
    "garbage": "Bearer not-a-jwt",
    "truncated": f"Bearer {sign(claims())[:-10]}",
    "tampered payload": f"Bearer {_tampered()}",
    "other secret": f"Bearer {sign(claims(), key='another-secret-that-is-long-enough-0123456789')}",
    "alg none": f"Bearer {unsigned('none')}",
    "alg None": f"Bearer {unsigned('None')}",
    "alg NONE": f"Bearer {unsigned('NONE')}",
    "hs384 with the right secret": f"Bearer {sign(claims(), algorithm='HS384')}",
    "hs512 with the right secret": f"Bearer {sign(claims(), algorithm='HS512')}",
    "not yet valid": f"Bearer {sign(claims(nbf=int(time.time()) + 300))}",
    "issued in the future": f"Bearer {sign(claims(iat=int(time.time()) + 300))}",
    "no exp": f"Bearer {sign(claims(exp=...))}",
    "exp not a number": f"Bearer {sign(claims(exp='tomorrow'))}",
    "no sub": f"Bearer {sign(claims(sub=...))}",
    "empty sub": f"Bearer {sign(claims(sub=''))}",
    "blank sub": f"Bearer {sign(claims(sub='   '))}",
    "numeric sub": f"Bearer {sign(claims(sub=42))}",
    "null sub": f"Bearer {sign(claims(sub=None))}",
    "list sub": f"Bearer {sign(claims(sub=[ALICE]))}",
    "sub with a NUL": f"Bearer {sign(claims(sub='alice' + chr(0)))}",
    "sub too long": f"Bearer {sign(claims(sub='a' * 256))}",
    "huge header": "Bearer " + "a" * 60_000,
}


@pytest.mark.parametrize("authorization", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_it_rejects_an_invalid_token(db: None, authorization: str) -> None:
    response = get(authorization)

    assert response.status_code == 401
    assert error_code(response) == "token_invalid"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_it_never_reads_a_token_from_the_query_string(db: None) -> None:
    token = sign(claims())
    for name in ("token", "access_token", "jwt", "authorization"):
        response = get(url=f"{URL}?{name}={token}")
        assert response.status_code == 401
        assert error_code(response) == "not_authenticated"


@pytest.fixture
def issuer_and_audience(settings: Any) -> None:
    settings.SIMPLE_JWT = {
        **settings.SIMPLE_JWT,
        "ISSUER": "https://auth.example.com",
        "AUDIENCE": "https://api.example.com",
    }


@pytest.mark.parametrize(
    ("iss", "aud", "status"),
    [
        ("https://auth.example.com", "https://api.example.com", 200),
        ("https://auth.example.com", ["https://other.example.com", "https://api.example.com"], 200),
        (..., "https://api.example.com", 401),
        ("https://evil.example.com", "https://api.example.com", 401),
        ("https://auth.example.com", ..., 401),
        ("https://auth.example.com", "https://other.example.com", 401),
    ],
)
def test_it_enforces_the_configured_issuer_and_audience(
    db: None, issuer_and_audience: None, iss: Any, aud: Any, status: int
) -> None:
    assert get(f"Bearer {sign(claims(iss=iss, aud=aud))}").status_code == status


def test_the_user_id_can_come_from_another_claim(db: None, settings: Any) -> None:
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "USER_ID_CLAIM": "uid"}

    assert get(f"Bearer {sign(claims(sub='someone-else', uid=ALICE))}").status_code == 200
    assert get(f"Bearer {sign(claims())}").status_code == 401


def test_authentication_makes_no_database_query(db: None, django_assert_num_queries: Any) -> None:
    request = Request(APIRequestFactory().get(URL, HTTP_AUTHORIZATION=f"Bearer {sign(claims())}"))

    with django_assert_num_queries(0):
        user, _ = BetterAuthJWTAuthentication().authenticate(request)

    assert user.id == ALICE
    assert user.is_authenticated


def test_each_failure_is_logged_once_with_its_reason_and_without_the_token(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    token = sign(claims(), key="another-secret-that-is-long-enough-0123456789")

    with caplog.at_level(logging.WARNING, logger="todo.security"):
        get(f"Bearer {token}")

    records = [record for record in caplog.records if record.name == "todo.security"]
    assert len(records) == 1
    message = records[0].getMessage()
    assert "token_invalid" in message
    assert "Signature verification failed" in message
    assert URL in message
    assert "127.0.0.1" in message
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text
