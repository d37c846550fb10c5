"""Fairness: before any load, each scenario (and a few errors) once on each server, bodies compared byte for byte."""

from __future__ import annotations

import http.client
import re
from collections.abc import Callable
from dataclasses import dataclass

from load import Scenario

# What legitimately differs between two servers: their port in links, a created task's id, write timestamps
# (a completion time too, when the write set one: null against a time is still a difference).
_PORT = re.compile(rb"127\.0\.0\.1:\d+")
_NEW_ID = re.compile(rb'("id":|/tasks/)\d+')
_WRITE_TIMES = re.compile(rb'"(created_at|updated_at|completed_at)":"[^"]*"')


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def request(port: int, method: str, path: str, *, token: str | None, body: str = "") -> Answer:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body:
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body.encode() or None, headers=headers)
    response = connection.getresponse()
    return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())


def _normalized(answer: Answer, *, masked: bool) -> tuple:
    body = _PORT.sub(b"HOST", answer.body)
    location = _PORT.sub(b"HOST", answer.headers.get("location", "").encode())
    etag = answer.headers.get("etag")
    if masked:
        body = _WRITE_TIMES.sub(rb'"\1":"..."', _NEW_ID.sub(rb"\1N", body))
        location = _NEW_ID.sub(rb"\1N", location)
        # A write's ETag names the task it created or changed, and each server counts its own: only its
        # presence can be compared.
        etag = etag is not None
    return answer.status, answer.headers.get("content-type"), location, etag, body


def compare(
    scenarios: list[Scenario],
    errors: list[tuple[str, str, str, str | None]],
    ports: tuple[int, int],
    token: str,
    reset: Callable[[], None],
) -> list[str]:
    """Differences between our answers and the floor's; an empty list when they are the same bytes."""
    differences = []
    cases = [(s.name, s.method, s.first_path, s.body, token, s.writes) for s in scenarios]
    cases += [(name, method, path, "", bad_token, False) for name, method, path, bad_token in errors]
    for name, method, path, body, case_token, writes in cases:
        answers = []
        for port in ports:
            answers.append(request(port, method, path, token=case_token, body=body))
            if writes:
                reset()  # so the second server writes the very row the first one did, from the same state
        ours, floor = (_normalized(answer, masked=writes) for answer in answers)
        if ours != floor:
            differences.append(f"{name}: ours {ours!r}\n    floor {floor!r}")
    return differences
