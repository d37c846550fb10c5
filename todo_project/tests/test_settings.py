"""Production settings refuse to start without strong secrets; development needs none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from todo_project.settings import _DEV_AUTH_SECRET

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k" * 50
STRONG_AUTH = "s" * 32


def start(show: str = "DEBUG", **env: str) -> subprocess.CompletedProcess:
    """Load the settings in a fresh interpreter with exactly this configuration, and print one of them."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "BETTER_AUTH", "JWT_", "DATABASE_"))
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; print(settings.{show})",
        ],
        env={**clean, "DJANGO_SETTINGS_MODULE": "todo_project.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_development_needs_no_configuration() -> None:
    result = start(DJANGO_DEBUG="1")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_production_starts_with_strong_secrets() -> None:
    result = start(DJANGO_SECRET_KEY=STRONG_KEY, BETTER_AUTH_SECRET=STRONG_AUTH)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BETTER_AUTH_SECRET": STRONG_AUTH}, "DJANGO_SECRET_KEY must be set"),
        ({"DJANGO_SECRET_KEY": STRONG_KEY}, "BETTER_AUTH_SECRET must be set"),
        (
            {"DJANGO_SECRET_KEY": STRONG_KEY, "BETTER_AUTH_SECRET": "s" * 31},
            "BETTER_AUTH_SECRET must be at least 32 bytes",
        ),
        (
            {"DJANGO_SECRET_KEY": "k" * 49, "BETTER_AUTH_SECRET": STRONG_AUTH},
            "DJANGO_SECRET_KEY must be at least 50 bytes",
        ),
        (
            {"DJANGO_SECRET_KEY": STRONG_KEY, "BETTER_AUTH_SECRET": _DEV_AUTH_SECRET},
            "BETTER_AUTH_SECRET is the published development value",
        ),
    ],
)
def test_production_refuses_a_missing_or_weak_secret(env: dict[str, str], message: str) -> None:
    result = start(**env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_a_short_secret_is_refused_even_in_development() -> None:
    result = start(DJANGO_DEBUG="1", BETTER_AUTH_SECRET="short")

    assert result.returncode != 0
    assert "BETTER_AUTH_SECRET must be at least 32 bytes" in result.stderr


def test_cors_allows_the_local_front_end_in_development_only() -> None:
    assert start("CORS_ALLOWED_ORIGINS", DJANGO_DEBUG="1").stdout.strip() == (
        "['http://localhost:3000', 'http://127.0.0.1:3000', 'http://localhost:5173']"
    )
    assert (
        start("CORS_ALLOWED_ORIGINS", DJANGO_SECRET_KEY=STRONG_KEY, BETTER_AUTH_SECRET=STRONG_AUTH).stdout.strip()
        == "[]"
    )
    production = start(
        "CORS_ALLOWED_ORIGINS",
        DJANGO_SECRET_KEY=STRONG_KEY,
        BETTER_AUTH_SECRET=STRONG_AUTH,
        CORS_ALLOWED_ORIGINS="https://a.example,https://b.example",
    )
    assert production.stdout.strip() == "['https://a.example', 'https://b.example']"


def test_the_cache_is_redis_when_redis_url_is_set() -> None:
    assert "FailFastRedisCache" in start("CACHES", DJANGO_DEBUG="1", REDIS_URL="redis://127.0.0.1:6379/0").stdout
    assert "LocMemCache" in start("CACHES", DJANGO_DEBUG="1").stdout


def test_the_admin_login_limits_are_read_from_the_environment() -> None:
    result = start(
        "AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME,"
        " settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['admin_login']",
        DJANGO_DEBUG="1",
        ADMIN_LOGIN_FAILURE_LIMIT="3",
        ADMIN_LOCKOUT_MINUTES="30",
        ADMIN_LOGIN_THROTTLE_RATE="20/hour",
    )

    assert result.stdout.strip() == "3 0:30:00 20/hour"


OPTIONS = "DATABASES['default']['OPTIONS']['options']"


def test_postgresql_connections_get_a_statement_timeout_no_jit_and_an_ssds_page_cost() -> None:
    result = start(OPTIONS, DJANGO_DEBUG="1", DATABASE_URL="postgres://u@db:5432/todo")

    assert result.stdout.strip() == (
        "-c statement_timeout=5000 -c idle_in_transaction_session_timeout=10000 -c jit=off -c random_page_cost=1.1"
    )
    tuned = start(
        OPTIONS,
        DJANGO_DEBUG="1",
        DATABASE_URL="postgres://u@db:5432/todo",
        DATABASE_STATEMENT_TIMEOUT="0.5",
        DATABASE_IDLE_IN_TRANSACTION_TIMEOUT="0",
    )
    assert tuned.stdout.strip() == (
        "-c statement_timeout=500 -c idle_in_transaction_session_timeout=0 -c jit=off -c random_page_cost=1.1"
    )


def test_options_in_the_database_url_come_after_the_defaults_and_win() -> None:
    url = "postgres://u@db:5432/todo?options=-c%20statement_timeout%3D0%20-c%20search_path%3Dapp"

    result = start(OPTIONS, DJANGO_DEBUG="1", DATABASE_URL=url)

    assert result.stdout.strip() == (
        "-c statement_timeout=5000 -c idle_in_transaction_session_timeout=10000 -c jit=off -c random_page_cost=1.1 "
        "-c statement_timeout=0 -c search_path=app"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("API_MAX_QUERY_STRING", "0"),
        ("API_SEARCH_MAX_LENGTH", "0"),
        ("API_SEARCH_MAX_WORDS", "0"),
        ("API_MAX_TAG_FILTERS", "0"),
        ("JWT_MAX_TOKEN_LIFETIME", "0"),
        ("ADMIN_LOGIN_FAILURE_LIMIT", "0"),
        ("ADMIN_LOCKOUT_MINUTES", "-1"),
        ("REDIS_TIMEOUT_MS", "0"),
        ("REDIS_RETRY_SECONDS", "0"),
    ],
)
def test_a_limit_below_one_stops_start_up(name: str, value: str) -> None:
    result = start(DJANGO_DEBUG="1", **{name: value})

    assert result.returncode != 0
    assert f"{name} must be a positive number" in result.stderr


def test_the_redis_timeouts_come_from_redis_timeout_ms() -> None:
    caches = start("CACHES", DJANGO_DEBUG="1", REDIS_URL="redis://127.0.0.1:6379/0", REDIS_TIMEOUT_MS="80").stdout

    assert "common.cache.FailFastRedisCache" in caches
    assert "'socket_timeout': 0.08" in caches and "'socket_connect_timeout': 0.08" in caches
