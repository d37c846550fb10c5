"""Fixtures shared by every app's tests: tokens, a client per user, tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser, Group
from django.test import Client
from rest_framework.test import APIClient

from authjwt.tokens import mint_token
from tasks.models import Task

ALICE = "alice-3f9c1e7a-5b2d-4c1f-9e8a-7d6b5c4a3f21"
BOB = "bob.builder@example.com"


def client_for(user_id: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_token(user_id)}")
    return client


@pytest.fixture
def alice(db: None) -> APIClient:
    return client_for(ALICE)


@pytest.fixture
def bob(db: None) -> APIClient:
    return client_for(BOB)


@pytest.fixture
def anonymous(db: None) -> APIClient:
    return APIClient()


@pytest.fixture
def make_task(db: None) -> Callable[..., Task]:
    def make(user_id: str = ALICE, **fields: Any) -> Task:
        fields.setdefault("title", "Water the plants")
        return Task.objects.create(user_id=user_id, **fields)

    return make


@pytest.fixture
def support_user(django_user_model: type[AbstractUser]) -> AbstractUser:
    """A support engineer's admin account: staff, in the Support group (as ``make support-user`` makes one)."""
    user = django_user_model.objects.create_user("sam", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    return user


@pytest.fixture
def support(client: Client, support_user: AbstractUser) -> Client:
    """A browser signed in to the admin as ``support_user``."""
    client.force_login(support_user)
    return client


def pytest_report_header() -> str:
    from django.conf import settings

    return f"database: {settings.DATABASES['default']['ENGINE']} {settings.DATABASES['default']['NAME']}"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # Throttle counts live in the cache, and tokens this process verified in its own: each test starts with none.
    from django.core.cache import cache

    from authjwt.tokens import verified_tokens

    cache.clear()
    verified_tokens.clear()
