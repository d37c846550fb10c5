"""Password guesses against a live server: throttled per address, and the service still answers meanwhile."""

from __future__ import annotations

import random
import statistics
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
import redis

from todo_project.tests.servers import Client, Response, Server, serve

pytestmark = pytest.mark.reliability

RATE = 10  # ADMIN_LOGIN_THROTTLE_RATE's default, per minute
THREADS = 8
PROBES = 20


REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def env(server_env: dict[str, str]) -> dict[str, str]:
    # Shared counts across workers; the client address comes from X-Forwarded-For, as behind nginx, so each
    # run guesses from an address of its own. A proxy that overwrites the header makes every run's address
    # the same: earlier runs' login counts are cleared.
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter("todo:throttle_admin_login_*"):
        client.delete(key)
    return {**server_env, "REDIS_URL": REDIS_URL, "API_NUM_PROXIES": "1"}


def random_address() -> str:
    return f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"


def csrf_token(server: Server) -> str:
    response = Client(server).request("GET", "/admin/login/")
    cookies = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    return cookies["csrftoken"].value


def guess(server: Server, token: str, address: str, password: str) -> Response:
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": "admin", "password": password})
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"csrftoken={token}",
        "X-Forwarded-For": address,
    }
    return Client(server).request("POST", "/admin/login/", body.encode(), headers)


def refusal(response: Response) -> str | None:
    """Why the admin's login page (common/admin.py) refused a login, or None for a plain login form."""
    if b"Too many login attempts from this address" in response.body:
        return "throttled"
    if b"Too many failed logins for this username or from this address" in response.body:
        return "locked_out"
    return None


def burst(server: Server, address: str, per_thread: int) -> list[Response]:
    token = csrf_token(server)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        jobs = [pool.submit(guess, server, token, address, f"guess-{n}") for n in range(THREADS * per_thread)]
        return [job.result() for job in jobs]


def test_a_burst_of_login_posts_from_one_address_gets_429s_past_the_rate(
    env: dict[str, str], tmp_path: Path, record_property: Any
) -> None:
    with serve(env, tmp_path / "server.log", workers=2) as server:
        responses = burst(server, random_address(), per_thread=10)

    outcomes = Counter((response.status, refusal(response)) for response in responses)
    record_property("hostile_requests", len(responses))
    # The first RATE reach the login: a form with its error (200) until the address is locked out, then 429s
    # that never hash; every other one is throttled before any authentication.
    assert outcomes[(429, "throttled")] == len(responses) - RATE
    assert outcomes[(200, None)] + outcomes[(429, "locked_out")] == RATE
    assert all(int(r.headers["Retry-After"]) > 0 for r in responses if refusal(r) == "throttled")


def test_health_is_answered_during_a_burst_of_login_posts(
    env: dict[str, str], tmp_path: Path, record_property: Any
) -> None:
    with serve(env, tmp_path / "server.log", workers=2) as server:
        token, address = csrf_token(server), random_address()
        sent = Counter()
        stop = threading.Event()

        def attack() -> None:
            while not stop.is_set():
                guess(server, token, address, "guess")
                sent["posts"] += 1

        attackers = [threading.Thread(target=attack) for _ in range(THREADS)]
        for thread in attackers:
            thread.start()
        while sent["posts"] < THREADS:  # the burst is under way
            time.sleep(0.01)
        probes = []
        for _ in range(PROBES):
            start = time.perf_counter()
            status = Client(server, timeout=10).request("GET", "/health").status
            probes.append((status, time.perf_counter() - start))
        stop.set()
        for thread in attackers:
            thread.join()

    record_property("hostile_requests", sent["posts"] + PROBES)
    median = statistics.median(seconds for _, seconds in probes)
    print(f"/health during a burst of {sent['posts']} login POSTs: median {median * 1000:.1f} ms")
    assert {status for status, _ in probes} == {200}
    # A bound, not a benchmark: when every guess was a password hash, the median was over a second.
    assert median < 0.5
