"""Several shared secrets at once, so the front end's secret can be rotated without downtime."""

from __future__ import annotations

import time
from io import StringIO
from typing import Any

import jwt
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from authjwt.tokens import mint_token
from conftest import ALICE

OLD = "the-old-secret-the-front-end-signs-with-until-switched"
NEW = "the-new-secret-added-first-then-used-by-the-front-end"
URL = f"/api/{ALICE}/tasks/"


def signed_with(secret: str, **overrides: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": ALICE, "iat": now, "exp": now + 600, **overrides}, secret, algorithm="HS256")


def status(token: str) -> tuple[int, str | None]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.get(URL)
    return response.status_code, response.json()["errors"][0]["code"] if response.status_code != 200 else None


@pytest.fixture
def rotating(settings: Any) -> None:
    settings.JWT_SECRETS = [NEW, OLD]


def test_a_token_signed_with_any_of_the_secrets_is_accepted(db: None, rotating: None) -> None:
    assert status(signed_with(NEW)) == (200, None)
    assert status(signed_with(OLD)) == (200, None)
    assert status(signed_with("a-third-secret-that-was-never-configured-anywhere")) == (401, "token_invalid")


@pytest.mark.parametrize("secret", [NEW, OLD], ids=["first", "second"])
def test_an_expired_token_from_either_secret_is_token_expired(db: None, rotating: None, secret: str) -> None:
    assert status(signed_with(secret, exp=int(time.time()) - 120)) == (401, "token_expired")


def test_a_token_from_the_second_secret_is_still_fully_checked(db: None, rotating: None, settings: Any) -> None:
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ISSUER": "https://auth.example.com"}

    assert status(signed_with(OLD)) == (401, "token_invalid")
    assert status(signed_with(OLD, iss="https://auth.example.com")) == (200, None)
    assert status(signed_with(OLD, iss="https://auth.example.com", sub="")) == (401, "token_invalid")


def test_new_tokens_are_signed_with_the_first_secret(rotating: None) -> None:
    out = StringIO()
    call_command("mint_token", "carol", stdout=out)

    for token in (mint_token("carol"), out.getvalue().strip()):
        assert jwt.decode(token, NEW, algorithms=["HS256"])["sub"] == "carol"
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, OLD, algorithms=["HS256"])


def test_the_rotation_steps_never_refuse_a_token_in_use(db: None, settings: Any) -> None:
    old_token, new_token = signed_with(OLD), signed_with(NEW)

    settings.JWT_SECRETS = [OLD]  # before: the front end signs with OLD
    assert status(old_token)[0] == 200
    settings.JWT_SECRETS = [NEW, OLD]  # 1. deploy with NEW added first; 2. switch the front end to NEW
    assert status(old_token)[0] == status(new_token)[0] == 200
    settings.JWT_SECRETS = [NEW]  # 3. once OLD's tokens have expired, drop it
    assert status(new_token)[0] == 200
    assert status(old_token) == (401, "token_invalid")
