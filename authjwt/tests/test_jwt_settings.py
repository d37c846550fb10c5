"""The JWT settings read from the environment: several secrets, the JWKS, and what start-up refuses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k" * 50
NEW = "n" * 32
OLD = "o" * 40
# The development value settings.py publishes, refused in production even among several secrets.
DEV_AUTH_SECRET = "development-only-better-auth-secret-do-not-deploy"


def start(show: str, **env: str) -> subprocess.CompletedProcess:
    """Load the settings in a fresh interpreter with exactly this configuration (production unless
    DJANGO_DEBUG says otherwise), and print the repr of the expression ``show``."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "BETTER_AUTH", "JWT_", "DATABASE_"))
    }
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); from django.conf import settings; print(repr({show}))"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "todo_project.settings", "DJANGO_SECRET_KEY": STRONG_KEY, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def shown(show: str, **env: str) -> str:
    result = start(show, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_several_comma_separated_secrets_are_accepted_and_the_first_signs() -> None:
    show = "(settings.JWT_SECRETS, settings.SIMPLE_JWT['SIGNING_KEY'])"

    assert shown(show, BETTER_AUTH_SECRET=f"{NEW} , {OLD}") == repr(([NEW, OLD], NEW))
    assert shown(show, BETTER_AUTH_SECRET=NEW) == repr(([NEW], NEW))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BETTER_AUTH_SECRET": f"{NEW},short"}, "Each secret in BETTER_AUTH_SECRET must be at least 32 bytes"),
        ({"BETTER_AUTH_SECRET": f"{NEW},"}, "Each secret in BETTER_AUTH_SECRET must be at least 32 bytes"),
        ({"BETTER_AUTH_SECRET": f"{NEW},{DEV_AUTH_SECRET}"}, "BETTER_AUTH_SECRET holds the published development"),
        ({"BETTER_AUTH_SECRET": NEW, "JWT_ALGORITHMS": "EdDSA,HS256"}, "not 'HS256'"),
        ({"BETTER_AUTH_SECRET": NEW, "JWT_ALGORITHMS": "none"}, "not 'none'"),
        ({"BETTER_AUTH_SECRET": NEW, "JWT_JWKS_URL": "file:///etc/passwd"}, "JWT_JWKS_URL must be an http"),
        ({"BETTER_AUTH_SECRET": NEW, "JWT_JWKS_CACHE_SECONDS": "0"}, "JWT_JWKS_CACHE_SECONDS must be a positive"),
    ],
    ids=["a short one", "an empty one", "the development one", "hmac algorithm", "alg none", "file url", "no cache"],
)
def test_start_up_refuses_a_weak_secret_or_an_unsafe_jwt_setting(env: dict[str, str], message: str) -> None:
    result = start("settings.DEBUG", **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_a_short_secret_among_several_is_refused_even_in_development() -> None:
    result = start("settings.DEBUG", DJANGO_DEBUG="1", BETTER_AUTH_SECRET=f"{NEW},short")

    assert result.returncode != 0
    assert "Each secret in BETTER_AUTH_SECRET must be at least 32 bytes" in result.stderr


def test_the_jwks_settings_have_safe_defaults_and_read_the_environment() -> None:
    show = "(settings.JWT_JWKS_URL, settings.JWT_ALGORITHMS, settings.JWT_JWKS_CACHE_SECONDS)"

    assert shown(show, BETTER_AUTH_SECRET=NEW) == repr(("", ["EdDSA", "ES256", "RS256"], 300))
    configured = shown(
        show,
        BETTER_AUTH_SECRET=NEW,
        JWT_JWKS_URL="https://auth.example.com/api/auth/jwks",
        JWT_ALGORITHMS="EdDSA, ES512,PS256",
        JWT_JWKS_CACHE_SECONDS="60",
    )
    assert configured == repr(("https://auth.example.com/api/auth/jwks", ["EdDSA", "ES512", "PS256"], 60))
