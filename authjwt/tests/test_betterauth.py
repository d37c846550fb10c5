"""End to end with the real thing: tokens from a Better Auth server (npm's better-auth and its jwt plugin).

Needs Node.js with npm (``npm ci`` runs here on first use) and PostgreSQL: the suite's server, else 127.0.0.1:5432.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt
import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connections
from rest_framework.test import APIClient

NODE_PROJECT = Path(__file__).resolve().parent / "betterauth"
ALICE_EMAIL, BOB_EMAIL = "alice@example.com", "bob@example.com"


def install_node_packages() -> None:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(
                f"{tool} is not installed: this test runs a real Better Auth server (apt-get install nodejs npm)"
            )
    installed = NODE_PROJECT / "node_modules" / ".package-lock.json"
    lock = NODE_PROJECT / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_PROJECT, check=True, timeout=300)


def postgres_server() -> dict[str, Any]:
    """The PostgreSQL server the suite runs on, if it runs on one; else the local one."""
    database = django_settings.DATABASES["default"]
    if connections["default"].vendor == "postgresql":
        return {
            "host": database["HOST"] or "127.0.0.1",
            "port": database["PORT"] or 5432,
            "user": database["USER"] or "postgres",
            "password": database["PASSWORD"] or "",
        }
    return {"host": "127.0.0.1", "port": 5432, "user": "postgres", "password": ""}


@pytest.fixture(scope="module")
def better_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A Better Auth server on its own fresh database, with Alice and Bob signed up and holding tokens."""
    install_node_packages()
    server = postgres_server()
    name = f"betterauth_e2e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    credentials = quote(server["user"]) + (f":{quote(server['password'])}" if server["password"] else "")
    database_url = f"postgres://{credentials}@{server['host']}:{server['port']}/{name}"

    logs = tmp_path_factory.mktemp("betterauth")
    with open(logs / "stdout", "w") as stdout, open(logs / "stderr", "w") as stderr:
        process = subprocess.Popen(
            ["node", "server.mjs", ALICE_EMAIL, BOB_EMAIL],
            cwd=NODE_PROJECT,
            env={**os.environ, "DATABASE_URL": database_url},
            stdout=stdout,
            stderr=stderr,
        )
    try:
        yield wait_for_users(process, logs)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_for_users(process: subprocess.Popen, logs: Path, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = (logs / "stdout").read_text().partition("\n")[0]
        if line.startswith("{"):
            started = json.loads(line)
            started["users"] = {user["email"]: user for user in started["users"]}
            return started
        if process.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"Better Auth did not start: {(logs / 'stderr').read_text()[-3000:]}")


@pytest.fixture
def connected(better_auth: dict[str, Any], settings: Any) -> dict[str, Any]:
    """Our API configured as the README tells an operator to, for this Better Auth server."""
    base_url = better_auth["baseURL"]
    settings.JWT_JWKS_URL = f"{base_url}/api/auth/jwks"
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ISSUER": base_url, "AUDIENCE": base_url}
    return better_auth["users"]


def client(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def test_better_auth_issues_what_its_documentation_promises(connected: dict[str, Any]) -> None:
    alice = connected[ALICE_EMAIL]
    header = jwt.get_unverified_header(alice["token"])
    claims = jwt.decode(alice["token"], options={"verify_signature": False})

    assert header["alg"] == "EdDSA" and header["kid"]
    assert claims["sub"] == alice["id"]
    assert claims["exp"] - claims["iat"] == 15 * 60


@pytest.mark.parametrize("source", ["token", "headerToken"], ids=["/api/auth/token", "set-auth-jwt header"])
def test_a_better_auth_token_lists_and_creates_its_users_tasks(
    db: None, connected: dict[str, Any], source: str
) -> None:
    alice = connected[ALICE_EMAIL]
    api = client(alice[source])
    url = f"/api/{alice['id']}/tasks/"

    assert api.get(url).json()["count"] == 0
    created = api.post(url, {"title": "Signed in with Better Auth"})
    assert created.status_code == 201
    assert created.json()["user_id"] == alice["id"]
    assert [task["title"] for task in api.get(url).json()["results"]] == ["Signed in with Better Auth"]


def test_another_better_auth_users_token_is_forbidden_on_the_path(db: None, connected: dict[str, Any]) -> None:
    alice, bob = connected[ALICE_EMAIL], connected[BOB_EMAIL]

    response = client(bob["token"]).get(f"/api/{alice['id']}/tasks/")

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "permission_denied"
    assert client(bob["token"]).get(f"/api/{bob['id']}/tasks/").status_code == 200


@pytest.mark.parametrize(
    "change",
    [{"JWT_JWKS_URL": ""}, {"AUDIENCE": "https://api.example.com"}, {"ISSUER": "https://auth.example.com"}],
    ids=["no jwks configured", "another audience", "another issuer"],
)
def test_a_better_auth_token_is_refused_unless_we_are_configured_for_that_server(
    db: None, connected: dict[str, Any], settings: Any, change: dict[str, str]
) -> None:
    alice = connected[ALICE_EMAIL]
    if "JWT_JWKS_URL" in change:
        settings.JWT_JWKS_URL = change["JWT_JWKS_URL"]
    else:
        settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, **change}

    response = client(alice["token"]).get(f"/api/{alice['id']}/tasks/")

    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "token_invalid"
