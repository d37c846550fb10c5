"""A token is verified once per process, then only its expiry is checked: within bounds of size and time."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from authjwt import tokens
from conftest import ALICE

URL = f"/api/{ALICE}/tasks/"


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each full verification of a token, as the backend sees it; and a fresh cache for the test."""
    seen: list[str] = []
    decode = tokens.backend.decode

    def counting(token: Any, verify: bool = True) -> dict[str, Any]:
        seen.append(token)
        return decode(token, verify)

    monkeypatch.setattr(tokens.backend, "decode", counting)
    return seen


def token(**claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": ALICE, "iat": now, "exp": now + 600, **claims}, settings.BETTER_AUTH_SECRET)


def get(raw: str) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client.get(URL)


def test_a_token_is_verified_once_and_then_found(db: None, decodes: list[str]) -> None:
    raw = token()

    assert [get(raw).status_code for _ in range(3)] == [200, 200, 200]
    assert len(decodes) == 1


def test_a_token_found_verified_is_still_refused_once_it_expires(db: None, decodes: list[str], settings: Any) -> None:
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "LEEWAY": 0}
    raw = token(exp=int(time.time()) + 2)
    assert get(raw).status_code == 200
    time.sleep(2.1)

    response = get(raw)

    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "token_expired"
    assert len(decodes) == 1


def test_an_entry_is_trusted_only_for_a_while(db: None, decodes: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens.verified_tokens, "trust_seconds", 0)
    raw = token()

    assert [get(raw).status_code for _ in range(2)] == [200, 200]
    assert len(decodes) == 2


def test_a_changed_secret_forgets_what_was_verified(db: None, decodes: list[str], settings: Any) -> None:
    raw = token()
    assert get(raw).status_code == 200

    settings.JWT_SECRETS = ["another-secret-that-is-long-enough-0123456789abcdef"]

    assert get(raw).status_code == 401


def test_the_least_recently_used_go_first(db: None, decodes: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens.verified_tokens, "size", 2)
    first, second, third = token(n=1), token(n=2), token(n=3)
    for raw in (first, second, first, third):  # first was used after second: second is the one dropped
        assert get(raw).status_code == 200
    decodes.clear()

    get(first), get(third), get(second)

    assert decodes == [second.encode()]
