"""The README's account and token commands (`make token`, `make superuser`, `make support-user`, `make manage`)
work as written on a fresh clone: nothing exported, no .env, a database of their own."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from django.contrib.auth.hashers import check_password
from django.test import Client

from todo_project.settings import _DEV_AUTH_SECRET
from todo_project.tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery-staple-41"
TIMEOUT_SECONDS = 120


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "fresh.sqlite3"


def fresh_env(database: Path) -> dict[str, str]:
    """The caller's environment without any of the project's settings, as on a newcomer's machine."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "BETTER_AUTH", "JWT_", "DATABASE_", "MAKE"))
    }
    return {**clean, "DATABASE_URL": f"sqlite:///{database}"}


def make(*args: str) -> list[str]:
    # The shared virtualenv is already installed: don't let make reinstall into it.
    return ["make", "--no-print-directory", "-o", ".venv/.run-deps", *args]


def run_make(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``make ARGS…`` run to its end, as a newcomer would, against ``database``."""
    return subprocess.run(
        make(*args), cwd=ROOT, env=fresh_env(database), capture_output=True, text=True, timeout=TIMEOUT_SECONDS
    )


class Terminal:
    """A command on a pseudo-terminal, as a person at a keyboard runs it (getpass and createsuperuser need one)."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        self.output = ""

    def expect(self, text: str) -> None:
        while text not in self.output:
            ready, _, _ = select.select([self.master], [], [], TIMEOUT_SECONDS)
            assert ready, f"no {text!r} after {TIMEOUT_SECONDS} s; so far:\n{self.output}"
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # the command ended
                chunk = b""
            assert chunk, f"ended without {text!r}:\n{self.output}"
            self.output += chunk.decode(errors="replace")
        self.output = self.output.split(text, 1)[1]

    def type(self, line: str) -> None:
        os.write(self.master, f"{line}\n".encode())

    def finish(self) -> int:
        try:
            while select.select([self.master], [], [], TIMEOUT_SECONDS)[0] and (chunk := os.read(self.master, 4096)):
                self.output += chunk.decode(errors="replace")
        except OSError:
            pass
        return self.process.wait(TIMEOUT_SECONDS)


@pytest.fixture
def terminal() -> Iterator[list[Terminal]]:
    started: list[Terminal] = []
    yield started
    for term in started:
        if term.process.poll() is None:
            term.process.kill()
            term.process.wait()
        os.close(term.master)


def run_on_terminal(started: list[Terminal], command: list[str], env: dict[str, str]) -> Terminal:
    term = Terminal(command, env)
    started.append(term)
    return term


def user_row(database: Path, username: str) -> sqlite3.Row | None:
    with sqlite3.connect(database) as connection:
        connection.row_factory = sqlite3.Row
        return connection.execute(
            "SELECT u.*, (SELECT group_concat(g.name) FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id"
            " WHERE ug.user_id = u.id) AS groups FROM auth_user u WHERE username = ?",
            (username,),
        ).fetchone()


def test_make_token_prints_a_token_for_the_user_without_any_configuration(database: Path) -> None:
    result = run_make(database, "token", "USER=alice")

    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), _DEV_AUTH_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice"


def test_make_token_refuses_to_guess_whose_token_from_the_login_name(database: Path) -> None:
    result = subprocess.run(
        make("token"),
        cwd=ROOT,
        env={**fresh_env(database), "USER": "root"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )

    assert result.returncode != 0
    assert "make token USER=alice" in result.stderr
    assert "eyJ" not in result.stdout


def test_make_superuser_creates_an_admin_with_the_password_typed(database: Path, terminal: list[Terminal]) -> None:
    term = run_on_terminal(terminal, make("superuser"), fresh_env(database))
    term.expect("Username")
    term.type("root-admin")
    term.expect("Email address:")
    term.type("admin@example.com")
    term.expect("Password:")
    term.type(PASSWORD)
    term.expect("Password (again):")
    term.type(PASSWORD)

    assert term.finish() == 0, term.output
    row = user_row(database, "root-admin")
    assert row is not None and row["is_superuser"] and row["is_staff"]
    assert check_password(PASSWORD, row["password"])


def test_make_support_user_creates_staff_in_the_support_group(database: Path, terminal: list[Terminal]) -> None:
    term = run_on_terminal(terminal, make("support-user", "NAME=sam"), fresh_env(database))
    term.expect("Password for sam:")
    term.type(PASSWORD)
    term.expect("Password (again):")
    term.type(PASSWORD)

    assert term.finish() == 0, term.output
    row = user_row(database, "sam")
    assert row is not None and row["is_staff"] and not row["is_superuser"]
    assert row["groups"] == "Support"
    assert check_password(PASSWORD, row["password"])


def test_make_support_user_creates_nothing_when_the_passwords_never_match(
    database: Path, terminal: list[Terminal]
) -> None:
    term = run_on_terminal(terminal, make("support-user", "NAME=sam"), fresh_env(database))
    for attempt in range(3):
        term.expect("Password for sam:")
        term.type(f"{PASSWORD}-{attempt}")
        term.expect("Password (again):")
        term.type(PASSWORD)

    assert term.finish() != 0
    assert "nothing was created" in term.output
    assert user_row(database, "sam") is None


def test_make_support_user_refuses_a_name_already_taken(database: Path, terminal: list[Terminal]) -> None:
    first = run_on_terminal(terminal, make("support-user", "NAME=sam"), fresh_env(database))
    first.expect("Password for sam:")
    first.type(PASSWORD)
    first.expect("Password (again):")
    first.type(PASSWORD)
    assert first.finish() == 0, first.output

    again = run_on_terminal(terminal, make("support-user", "NAME=sam"), fresh_env(database))

    assert again.finish() != 0
    assert "'sam' already exists" in again.output
    assert "changepassword sam" in again.output


def test_make_manage_runs_the_readmes_unlock_command(database: Path) -> None:
    result = run_make(database, "manage", "ARGS=axes_reset_username sam")

    assert result.returncode == 0, result.stderr
    assert "No attempts found." in result.stdout


def test_make_test_says_in_one_line_what_the_machine_lacks_before_installing_anything(database: Path) -> None:
    closed = free_port()
    env = {
        **fresh_env(database),
        "PATH": str(database.parent),  # no nginx in it (deploy/serve.py also looks in /usr/sbin), no node, no npm
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed}/todo",
    }
    result = subprocess.run(
        [shutil.which("make"), "--no-print-directory", "-o", ".venv/.test-deps", "test", f"PYTHON={sys.executable}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )

    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert len(lines) == 1, result.stderr
    assert "Node.js with npm (apt-get install nodejs npm)" in lines[0]
    assert f"PostgreSQL on 127.0.0.1:{closed}" in lines[0]
    assert "ruff" not in result.stdout  # it stopped before the suite


def test_make_check_machine_is_silent_when_everything_is_there(database: Path) -> None:
    result = run_make(database, "check-machine")

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_make_run_says_where_the_docs_and_the_admin_are_and_how_to_get_an_account(
    database: Path, client: Client
) -> None:
    run = subprocess.Popen(
        make("run"), cwd=ROOT, env=fresh_env(database), stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    # Without the lines this reads until the server stops: stop it then.
    deadline = threading.Timer(TIMEOUT_SECONDS, os.killpg, (run.pid, signal.SIGTERM))
    deadline.start()
    try:
        printed = ""
        while "Admin:" not in printed and (line := run.stdout.readline()):
            printed += line
    finally:
        deadline.cancel()
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(TIMEOUT_SECONDS)
        run.stdout.close()

    urls = dict(re.findall(r"^(Swagger UI|ReDoc|Admin): (http://127\.0\.0\.1:8000/\S+)", printed, re.MULTILINE))
    assert set(urls) == {"Swagger UI", "ReDoc", "Admin"}, printed
    assert "make superuser" in printed
    for url in urls.values():
        # Each is a page of this server: the docs answer, the admin sends to its login.
        assert client.get(url.removeprefix("http://127.0.0.1:8000")).status_code in (200, 302), url


def test_make_manage_mints_a_token_with_the_lifetime_and_claims_asked_for(database: Path) -> None:
    result = run_make(database, "manage", "ARGS=mint_token alice --ttl 3600 --claim level=3")

    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.splitlines()[-1], _DEV_AUTH_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["level"], claims["exp"] - claims["iat"]) == ("alice", 3, 3600)
