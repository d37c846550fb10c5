"""exp, nbf and iat must be finite JSON numbers, and no token may live longer than JWT_MAX_TOKEN_LIFETIME."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings

from authjwt.tests.test_authentication import claims, error_code, get, sign
from authjwt.tokens import mint_token
from conftest import ALICE

DAY = 86400
HEADER = b'{"alg":"HS256","typ":"JWT"}'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_raw(payload: str) -> str:
    """An HS256 token whose payload is exactly this JSON text (jwt.encode cannot write 1e400 or NaN)."""
    signing_input = f"{_b64(HEADER)}.{_b64(payload.encode())}"
    signature = hmac.new(settings.BETTER_AUTH_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def refused_as_invalid(token: str) -> bool:
    response = get(f"Bearer {token}")
    return response.status_code == 401 and error_code(response) == "token_invalid"


NOW = int(time.time())
FUTURE = NOW + 600

BAD_TIME_CLAIMS = {
    # PyJWT alone accepts these three: int("...") parses them.
    "exp a numeric string": sign(claims(exp=str(FUTURE))),
    "nbf a numeric string": sign(claims(nbf=str(NOW))),
    "iat a numeric string": sign(claims(iat=str(NOW))),
    # PyJWT alone calls these expired (int(True) == 1), not invalid.
    "exp true": sign(claims(exp=True)),
    "exp false": sign(claims(exp=False)),
    "nbf true": sign(claims(nbf=True)),
    "iat false": sign(claims(iat=False)),
    "exp null": sign(claims(exp=None)),
    "exp a list": sign(claims(exp=[FUTURE])),
    "exp an object": sign(claims(exp={"at": FUTURE})),
    "exp 1e400 (infinity)": sign_raw(f'{{"sub": "{ALICE}", "iat": {NOW}, "exp": 1e400}}'),
    "exp -1e400": sign_raw(f'{{"sub": "{ALICE}", "iat": {NOW}, "exp": -1e400}}'),
    "exp NaN": sign_raw(f'{{"sub": "{ALICE}", "iat": {NOW}, "exp": NaN}}'),
    "nbf 1e400": sign_raw(f'{{"sub": "{ALICE}", "nbf": 1e400, "exp": {FUTURE}}}'),
    "iat -1e400": sign_raw(f'{{"sub": "{ALICE}", "iat": -1e400, "exp": {FUTURE}}}'),
    # Finite, but never expiring: the lifetime limit's.
    "exp 10**400": sign_raw(f'{{"sub": "{ALICE}", "iat": {NOW}, "exp": {10**400}}}'),
    "exp 10**400 without iat": sign_raw(f'{{"sub": "{ALICE}", "exp": {10**400}}}'),
}


@pytest.mark.parametrize("token", BAD_TIME_CLAIMS.values(), ids=BAD_TIME_CLAIMS.keys())
def test_it_refuses_a_time_claim_that_is_not_a_finite_number(db: None, token: str) -> None:
    assert refused_as_invalid(token)


def test_it_accepts_a_fractional_time_claim(db: None) -> None:
    assert get(f"Bearer {sign(claims(iat=NOW - 0.5, exp=FUTURE + 0.5))}").status_code == 200


def test_it_accepts_a_token_living_exactly_the_maximum_lifetime(db: None) -> None:
    assert settings.JWT_MAX_TOKEN_LIFETIME == DAY
    iat = int(time.time()) - 60

    assert get(f"Bearer {sign(claims(iat=iat, exp=iat + DAY))}").status_code == 200


def test_it_refuses_a_token_living_longer_than_the_maximum_lifetime(db: None) -> None:
    iat = int(time.time()) - 60

    assert refused_as_invalid(sign(claims(iat=iat, exp=iat + DAY + 1)))


def test_without_iat_the_lifetime_counts_from_now(db: None) -> None:
    now = int(time.time())

    assert get(f"Bearer {sign(claims(iat=..., exp=now + DAY - 60))}").status_code == 200
    assert refused_as_invalid(sign(claims(iat=..., exp=now + DAY + 60)))


def test_an_old_iat_cannot_stretch_a_token_past_the_maximum(db: None) -> None:
    # Signed "two days ago", valid for ten more minutes: the issuer gave it a lifetime over the limit.
    now = int(time.time())

    assert refused_as_invalid(sign(claims(iat=now - 2 * DAY, exp=now + 600)))


def test_the_maximum_lifetime_is_a_setting(db: None, settings: Any) -> None:
    settings.JWT_MAX_TOKEN_LIFETIME = 3600
    iat = int(time.time())

    assert get(f"Bearer {sign(claims(iat=iat, exp=iat + 3600))}").status_code == 200
    assert refused_as_invalid(sign(claims(iat=iat, exp=iat + 3601)))


def test_mint_token_at_the_maximum_lifetime_is_accepted(db: None) -> None:
    # make run prints a token minted with --ttl 86400.
    assert get(f"Bearer {mint_token(ALICE, ttl=timedelta(seconds=DAY))}").status_code == 200


def test_a_refused_lifetime_is_logged_with_its_reason(db: None, caplog: pytest.LogCaptureFixture) -> None:
    iat = int(time.time())

    with caplog.at_level(logging.WARNING, logger="todo.security"):
        get(f"Bearer {sign(claims(iat=iat, exp=iat + 10 * DAY))}")

    [record] = [record for record in caplog.records if record.name == "todo.security"]
    assert "token_invalid" in record.getMessage()
    assert "JWT_MAX_TOKEN_LIFETIME" in record.getMessage()


def test_a_refused_time_claim_is_logged_with_its_reason(db: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="todo.security"):
        get(f"Bearer {sign(claims(exp=str(FUTURE)))}")

    [record] = [record for record in caplog.records if record.name == "todo.security"]
    assert "'exp' is not a number" in record.getMessage()
