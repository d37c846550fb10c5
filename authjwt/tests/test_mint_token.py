from __future__ import annotations

import time
from io import StringIO
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command


def mint(*args: str) -> dict:
    out = StringIO()
    call_command("mint_token", *args, stdout=out)
    return jwt.decode(out.getvalue().strip(), settings.BETTER_AUTH_SECRET, algorithms=["HS256"])


def test_it_prints_a_token_the_api_accepts_for_the_user() -> None:
    claims = mint("carol")

    assert claims["sub"] == "carol"
    assert 890 <= claims["exp"] - time.time() <= 900


def test_it_takes_a_lifetime_and_extra_claims() -> None:
    claims = mint("carol", "--ttl", "60", "--claim", "role=support", "--claim", "level=3")

    assert claims["exp"] - claims["iat"] == 60
    assert claims["role"] == "support"
    assert claims["level"] == 3


@pytest.mark.parametrize("args", [["carol", "--ttl", "0"], ["carol", "--claim", "novalue"]])
def test_it_refuses_bad_arguments(args: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("mint_token", *args, stdout=StringIO())


def test_it_refuses_a_lifetime_the_api_would_refuse(settings: Any) -> None:
    settings.JWT_MAX_TOKEN_LIFETIME = 3600

    assert mint("carol", "--ttl", "3600")["exp"] > time.time()
    with pytest.raises(CommandError, match="JWT_MAX_TOKEN_LIFETIME"):
        call_command("mint_token", "carol", "--ttl", "3601", stdout=StringIO())
