"""Recurring tasks through the API: a rule and a zone on a task, completing it by every route (…/complete/, PATCH,
PUT, a batch) moves it to its next occurrence, changing its rule, zone or due date starts its series again, and
nothing about it reaches another user or costs more than its bound."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import ALICE
from tasks import services
from tasks.conditional import etag_for
from tasks.models import Task

BASE = f"/api/{ALICE}/tasks/"
BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"
WRITABLE = ["title", "description", "completed", "priority", "due_date", "tags", "recurrence", "timezone"]


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def z(text: str) -> str:
    """A moment as the API writes it: ISO 8601 in UTC, with a Z."""
    return moment(text).isoformat().replace("+00:00", "Z")


@dataclass
class Clock:
    now: datetime

    def set(self, text: str) -> None:
        self.now = moment(text)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The server's time, where the test says (timezone.now, which the services and the models read)."""
    clock = Clock(moment("2026-01-01T00:00:00+00:00"))
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


def create(client: APIClient, **fields: Any) -> dict[str, Any]:
    response = client.post(BASE, {"title": "Water the plants", **fields}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def complete(client: APIClient, task: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.patch(f"{BASE}{task['id']}/complete/", body or {}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def patch(client: APIClient, task: dict[str, Any], **fields: Any) -> dict[str, Any]:
    response = client.patch(f"{BASE}{task['id']}/", fields, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def errors(response: Any) -> list[tuple[str, str]]:
    assert response.status_code == 400, response.json()
    return [(error["attr"], error["code"]) for error in response.json()["errors"]]


# A recurring task


def test_a_recurring_task_has_its_rule_normalised_its_zone_and_no_completions_yet(alice: APIClient) -> None:
    task = create(
        alice, due_date="2026-01-12T09:00:00+01:00", recurrence="rrule:freq=weekly;byday=we,mo", timezone=BERLIN
    )

    assert (task["recurrence"], task["timezone"], task["completions"]) == ("FREQ=WEEKLY;BYDAY=MO,WE", BERLIN, 0)
    assert (task["due_date"], task["completed"], task["completed_at"]) == ("2026-01-12T08:00:00Z", False, None)
    assert alice.get(f"{BASE}{task['id']}/").json() == task


def test_a_task_does_not_recur_unless_given_a_rule(alice: APIClient) -> None:
    task = create(alice, due_date="2026-01-12T09:00:00+01:00")

    assert (task["recurrence"], task["timezone"], task["completions"]) == (None, "UTC", 0)


def test_the_due_date_becomes_the_rules_first_occurrence_at_or_after_it(alice: APIClient) -> None:
    # Friday 9 January 2026 for a Monday and Wednesday rule: Monday the 12th, at the due date's time of day.
    task = create(alice, due_date="2026-01-09T09:30:00+01:00", recurrence="FREQ=WEEKLY;BYDAY=MO,WE", timezone=BERLIN)

    assert task["due_date"] == z("2026-01-12T09:30:00+01:00")


def test_a_rule_without_a_due_date_starts_its_series_at_the_time_of_the_request(alice: APIClient, clock: Clock) -> None:
    clock.set("2026-01-05T10:15:30.5+01:00")  # a Monday

    task = create(alice, recurrence="FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0", timezone=BERLIN)
    weekly = create(alice, recurrence="FREQ=WEEKLY")

    assert task["due_date"] == z("2026-01-06T09:00:00+01:00")
    assert weekly["due_date"] == z("2026-01-05T10:15:30+01:00")


# Completing it, by every route


def done_through_complete(client: APIClient, task: dict[str, Any]) -> dict[str, Any]:
    return complete(client, task, {"completed": True})


def done_through_a_flip(client: APIClient, task: dict[str, Any]) -> dict[str, Any]:
    return complete(client, task)


def done_through_patch(client: APIClient, task: dict[str, Any]) -> dict[str, Any]:
    return patch(client, task, completed=True)


def done_through_put(client: APIClient, task: dict[str, Any]) -> dict[str, Any]:
    response = client.put(f"{BASE}{task['id']}/", {**{f: task[f] for f in WRITABLE}, "completed": True}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def done_through_a_batch(client: APIClient, task: dict[str, Any]) -> dict[str, Any]:
    operation = {"op": "complete", "id": task["id"], "data": {"completed": True}}
    response = client.post(f"{BASE}batch/", {"atomic": True, "operations": [operation]}, format="json")
    [result] = response.json()["results"]
    assert result["status"] == 200, result
    return result["body"]


def done_through_a_batch_update(client: APIClient, task: dict[str, Any]) -> dict[str, Any]:
    operation = {"op": "partial_update", "id": task["id"], "data": {"completed": True}}
    [result] = client.post(f"{BASE}batch/", {"operations": [operation]}, format="json").json()["results"]
    assert result["status"] == 200, result
    return result["body"]


ROUTES = [
    done_through_complete,
    done_through_a_flip,
    done_through_patch,
    done_through_put,
    done_through_a_batch,
    done_through_a_batch_update,
]


@pytest.mark.parametrize("done", ROUTES)
def test_completing_a_recurring_task_records_it_and_moves_it_to_its_next_occurrence(
    alice: APIClient, clock: Clock, done: Callable[[APIClient, dict[str, Any]], dict[str, Any]]
) -> None:
    task = create(alice, due_date="2026-01-05T09:00:00+01:00", recurrence="FREQ=DAILY", timezone=BERLIN)
    clock.set("2026-01-05T09:10:00+01:00")

    after = done(alice, task)

    assert after["completed"] is False
    assert (after["completions"], after["completed_at"]) == (1, z("2026-01-05T09:10:00+01:00"))
    assert after["due_date"] == z("2026-01-06T09:00:00+01:00")
    assert after["version"] == task["version"] + 1
    assert alice.get(f"{BASE}{task['id']}/").json() == after


def test_the_answer_carries_the_etag_of_the_task_as_moved(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-01-05T09:00:00+00:00", recurrence="FREQ=DAILY")

    response = alice.patch(f"{BASE}{task['id']}/complete/", {}, format="json")

    assert response["ETag"] == f'"{task["id"]}-{task["version"] + 1}"' == etag_for(Task.objects.get(pk=task["id"]))


def test_every_day_at_0900_in_berlin_stays_0900_there_across_both_clock_changes(alice: APIClient, clock: Clock) -> None:
    def dues(first: str, completions: int) -> list[str]:
        task = create(alice, due_date=first, recurrence="FREQ=DAILY", timezone=BERLIN)
        seen = [task["due_date"]]
        for _ in range(completions):
            clock.now = moment(seen[-1]) + timedelta(minutes=5)
            seen.append(complete(alice, task)["due_date"])
        return seen

    assert dues("2026-03-27T09:00:00+01:00", 3) == [
        "2026-03-27T08:00:00Z",
        "2026-03-28T08:00:00Z",
        "2026-03-29T07:00:00Z",
        "2026-03-30T07:00:00Z",
    ]
    assert dues("2026-10-24T09:00:00+02:00", 2) == [
        "2026-10-24T07:00:00Z",
        "2026-10-25T08:00:00Z",
        "2026-10-26T08:00:00Z",
    ]


def test_every_day_at_0900_in_new_york_stays_0900_there(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-03-07T09:00:00-05:00", recurrence="FREQ=DAILY", timezone=NEW_YORK)
    clock.set("2026-03-07T09:30:00-05:00")

    assert complete(alice, task)["due_date"] == "2026-03-08T13:00:00Z"  # 09:00 EDT


def test_every_month_on_its_last_friday(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-01-01T16:00:00+01:00", recurrence="FREQ=MONTHLY;BYDAY=-1FR", timezone=BERLIN)
    seen = [task["due_date"]]
    for _ in range(3):
        clock.now = moment(seen[-1])
        seen.append(complete(alice, task)["due_date"])

    assert seen == ["2026-01-30T15:00:00Z", "2026-02-27T15:00:00Z", "2026-03-27T15:00:00Z", "2026-04-24T14:00:00Z"]


def test_occurrences_already_past_are_skipped(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-01-01T09:00:00+00:00", recurrence="FREQ=DAILY")
    clock.set("2026-01-10T12:00:00+00:00")

    after = complete(alice, task)

    assert (after["due_date"], after["completions"]) == ("2026-01-11T09:00:00Z", 1)


def test_completing_before_the_due_date_moves_past_it(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-01-02T09:00:00+00:00", recurrence="FREQ=DAILY")
    clock.set("2026-01-01T08:00:00+00:00")

    assert complete(alice, task)["due_date"] == "2026-01-03T09:00:00Z"


def test_when_count_runs_out_the_task_is_completed_for_good(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-01-01T09:00:00+00:00", recurrence="FREQ=DAILY;COUNT=3")
    for day in (1, 2):
        clock.set(f"2026-01-0{day}T10:00:00+00:00")
        assert complete(alice, task)["completed"] is False

    clock.set("2026-01-03T10:00:00+00:00")
    last = complete(alice, task)

    assert (last["completed"], last["completions"], last["completed_at"]) == (True, 3, "2026-01-03T10:00:00Z")
    assert last["due_date"] == "2026-01-03T09:00:00Z"
    # Completed again: nothing changes. Flipped: reopened, its completions kept.
    clock.set("2026-01-04T10:00:00+00:00")
    assert complete(alice, task, {"completed": True})["completed_at"] == "2026-01-03T10:00:00Z"
    reopened = complete(alice, task)
    assert (reopened["completed"], reopened["completed_at"], reopened["completions"]) == (False, None, 3)
    assert complete(alice, task)["completed"] is True


def test_an_until_in_the_past_completes_the_task_for_good(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-01-01T09:00:00+00:00", recurrence="FREQ=DAILY;UNTIL=20260105T000000Z")
    clock.set("2026-06-01T00:00:00+00:00")

    after = complete(alice, task)

    assert (after["completed"], after["completions"], after["due_date"]) == (True, 1, "2026-01-01T09:00:00Z")


def test_an_until_before_the_due_date_leaves_the_due_date_as_the_only_occurrence(alice: APIClient) -> None:
    task = create(alice, due_date="2026-01-01T09:00:00.5+00:00", recurrence="FREQ=DAILY;UNTIL=20200101T000000Z")

    assert task["due_date"] == "2026-01-01T09:00:00Z"
    assert complete(alice, task)["completed"] is True


@pytest.mark.parametrize(
    "rule",
    ["FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6", "FREQ=DAILY;BYMONTHDAY=31;BYMONTH=4"],
)
def test_a_rule_that_never_matches_is_taken_and_its_task_completes_for_good(
    alice: APIClient, clock: Clock, rule: str
) -> None:
    task = create(alice, due_date="2026-01-05T09:00:00+00:00", recurrence=rule)

    assert task["due_date"] == "2026-01-05T09:00:00Z"
    assert complete(alice, task)["completed"] is True


def test_reopening_an_open_recurring_task_changes_nothing_but_its_version(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-01-05T09:00:00+00:00", recurrence="FREQ=DAILY")
    clock.set("2026-01-05T09:30:00+00:00")
    task = complete(alice, task)

    after = complete(alice, task, {"completed": False})

    assert after == {**task, "version": task["version"] + 1, "updated_at": after["updated_at"]}


# Changing the rule, the zone or the due date starts the series again


def test_a_new_rule_starts_again_from_the_due_date(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-01-10T09:00:00+00:00", recurrence="FREQ=DAILY;COUNT=2")  # a Saturday
    clock.set("2026-01-10T10:00:00+00:00")
    task = complete(alice, task)  # Sunday the 11th, the last

    changed = patch(alice, task, recurrence="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=2")

    assert (changed["due_date"], changed["completions"]) == ("2026-01-12T09:00:00Z", 1)
    clock.set("2026-01-12T10:00:00+00:00")
    assert complete(alice, changed)["due_date"] == "2026-01-13T09:00:00Z"


def test_a_new_zone_keeps_the_due_date_and_keeps_its_time_of_day_there(alice: APIClient, clock: Clock) -> None:
    # Sent as 09:00 Berlin time with the default zone (UTC): 08:00 every day in UTC, 09:00 or 10:00 in Berlin.
    task = create(alice, due_date="2026-03-28T09:00:00+01:00", recurrence="FREQ=DAILY")
    clock.set("2026-03-28T08:30:00+00:00")
    assert complete(alice, task)["due_date"] == "2026-03-29T08:00:00Z"

    fixed = patch(alice, task, timezone=BERLIN)

    assert fixed["due_date"] == "2026-03-29T08:00:00Z"  # 10:00 CEST: the moment is kept
    assert complete(alice, fixed)["due_date"] == "2026-03-30T08:00:00Z"


def test_a_new_due_date_starts_the_series_there(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-01-05T09:00:00+00:00", recurrence="FREQ=DAILY")

    moved = patch(alice, task, due_date="2026-02-01T07:45:00+00:00")

    assert moved["due_date"] == "2026-02-01T07:45:00Z"
    clock.set("2026-02-01T08:00:00+00:00")
    assert complete(alice, moved)["due_date"] == "2026-02-02T07:45:00Z"


def test_a_recurring_task_without_its_due_date_starts_again_now(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-01-05T09:00:00+00:00", recurrence="FREQ=DAILY;BYHOUR=9;BYMINUTE=0")
    clock.set("2026-02-01T12:00:00+00:00")

    assert patch(alice, task, due_date=None)["due_date"] == "2026-02-02T09:00:00Z"


def test_sending_back_what_was_read_changes_no_series(alice: APIClient, clock: Clock) -> None:
    # 02:30 does not exist in Berlin on 29 March: that day it is 03:30; the day after, 02:30 again.
    task = create(alice, due_date="2026-03-28T02:30:00+01:00", recurrence="FREQ=DAILY", timezone=BERLIN)
    clock.set("2026-03-28T02:00:00+00:00")
    task = complete(alice, task)
    assert task["due_date"] == "2026-03-29T01:30:00Z"

    response = alice.put(f"{BASE}{task['id']}/", {f: task[f] for f in WRITABLE}, format="json")
    task = patch(alice, response.json(), recurrence="freq=daily", timezone=BERLIN, due_date=task["due_date"])
    clock.set("2026-03-29T02:00:00+00:00")

    assert complete(alice, task)["due_date"] == "2026-03-30T00:30:00Z"  # 02:30, not 03:30


def test_removing_the_rule_makes_an_ordinary_task(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-01-05T09:00:00+00:00", recurrence="FREQ=DAILY")
    clock.set("2026-01-05T10:00:00+00:00")
    task = complete(alice, task)

    plain = patch(alice, task, recurrence=None)

    assert (plain["recurrence"], plain["due_date"], plain["completions"]) == (None, "2026-01-06T09:00:00Z", 1)
    # An open task without a rule has no completion time; completing it is an ordinary completion.
    assert plain["completed_at"] is None
    assert complete(alice, plain)["completed"] is True


def test_a_put_without_the_rule_removes_it(alice: APIClient) -> None:
    task = create(alice, due_date="2026-01-05T09:00:00+00:00", recurrence="FREQ=DAILY", timezone=BERLIN)

    response = alice.put(f"{BASE}{task['id']}/", {"title": "Once"}, format="json")

    assert (response.json()["recurrence"], response.json()["timezone"], response.json()["due_date"]) == (
        None,
        "UTC",
        None,
    )


def test_a_rule_given_to_an_ordinary_task_starts_at_its_due_date(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-01-09T09:00:00+00:00")

    recurring = patch(alice, task, recurrence="FREQ=WEEKLY;BYDAY=MO")

    assert recurring["due_date"] == "2026-01-12T09:00:00Z"


def test_a_recurring_task_created_completed_has_completed_its_first_occurrence(alice: APIClient, clock: Clock) -> None:
    clock.set("2026-01-05T10:00:00+00:00")

    task = create(alice, due_date="2026-01-05T09:00:00+00:00", recurrence="FREQ=DAILY", completed=True)

    assert (task["completed"], task["completions"], task["due_date"]) == (False, 1, "2026-01-06T09:00:00Z")
    assert task["completed_at"] == "2026-01-05T10:00:00Z"


# What the API refuses


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (1, "invalid"),
        (True, "invalid"),
        (["FREQ=DAILY"], "invalid"),
        ({"FREQ": "DAILY"}, "invalid"),
        ("", "invalid_rule"),
        ("FREQ=SECONDLY", "invalid_rule"),
        ("DTSTART:20260101T090000Z\nRRULE:FREQ=DAILY", "invalid_rule"),
        ("FREQ=DAILY;UNTIL=20260101", "invalid_rule"),
        ("FREQ=DAILY;COUNT=5000000", "invalid_rule"),
        ("FREQ=DAILY;BYDAY=" + ",MO" * 200, "max_length"),
        ("FREQ=DAILY\x00", "invalid_rule"),
        ("FREQ=DAILY\ud800", "invalid_rule"),
        ("FREQ=DAILY;\ud800=1", "invalid_rule"),
        ("FREQ=DAILY;\x00", "invalid_rule"),
    ],
)
def test_a_rule_that_is_not_one_is_a_400_naming_recurrence_and_writes_nothing(
    alice: APIClient, make_task: Callable[..., Task], value: Any, code: str
) -> None:
    task = make_task()

    # Encoded here, as a client would: json.dumps escapes what the test client's encoder cannot write.
    created = alice.generic("POST", BASE, json.dumps({"title": "x", "recurrence": value}), "application/json")
    patched = alice.generic("PATCH", f"{BASE}{task.id}/", json.dumps({"recurrence": value}), "application/json")

    assert errors(created) == errors(patched) == [("recurrence", code)]
    assert Task.objects.get() == task and Task.objects.get().recurrence is None


@pytest.mark.parametrize(
    ("value", "code"),
    [(None, "null"), (1, "invalid"), ("europe/berlin", "invalid_time_zone"), ("", "invalid_time_zone")],
)
def test_a_zone_that_is_not_one_is_a_400_naming_timezone(alice: APIClient, value: Any, code: str) -> None:
    response = alice.post(BASE, {"title": "x", "timezone": value}, format="json")

    assert errors(response) == [("timezone", code)]
    assert not Task.objects.exists()


def test_a_zone_is_taken_without_a_rule_too(alice: APIClient) -> None:
    assert create(alice, timezone=NEW_YORK)["timezone"] == NEW_YORK


# If-Match, ownership and the feed


def test_a_stale_if_match_completes_nothing(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-01-05T09:00:00+00:00", recurrence="FREQ=DAILY")
    stale = f'"{task["id"]}-{task["version"]}"'
    patch(alice, task, title="changed elsewhere")
    before = Task.objects.values().get()

    for url, body in ((f"{BASE}{task['id']}/complete/", {}), (f"{BASE}{task['id']}/", {"completed": True})):
        response = alice.patch(url, body, format="json", HTTP_IF_MATCH=stale)
        assert response.status_code == 412, response.json()
    assert Task.objects.values().get() == before


def test_the_current_if_match_completes_it(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-01-05T09:00:00+00:00", recurrence="FREQ=DAILY")

    response = alice.patch(f"{BASE}{task['id']}/complete/", {}, format="json", HTTP_IF_MATCH=etag_for_dict(task))

    assert response.status_code == 200 and response.json()["completions"] == 1


def etag_for_dict(task: dict[str, Any]) -> str:
    return f'"{task["id"]}-{task["version"]}"'


def test_another_user_cannot_complete_or_change_a_recurring_task(
    alice: APIClient, bob: APIClient, clock: Clock
) -> None:
    task = create(alice, due_date="2026-01-05T09:00:00+00:00", recurrence="FREQ=DAILY")
    before = Task.objects.values().get()

    for url, body in ((f"{BASE}{task['id']}/complete/", {}), (f"{BASE}{task['id']}/", {"recurrence": None})):
        assert bob.patch(url, body, format="json").status_code == 403
    bobs = f"/api/bob.builder@example.com/tasks/{task['id']}/"
    assert bob.patch(f"{bobs}complete/", {}, format="json").status_code == 404
    assert bob.patch(bobs, {"recurrence": "FREQ=WEEKLY"}, format="json").status_code == 404
    assert Task.objects.values().get() == before


def test_the_change_feed_carries_the_fields_and_each_completion(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-01-05T09:00:00+00:00", recurrence="FREQ=DAILY", timezone=BERLIN)
    cursor = alice.get(f"{BASE}changes/").json()["cursor"]

    done = complete(alice, task)
    changes = alice.get(f"{BASE}changes/", {"since": cursor}).json()

    assert changes["changed"] == [done]
    assert (done["recurrence"], done["timezone"], done["completions"]) == ("FREQ=DAILY", BERLIN, 1)


# Lists


def test_lists_filter_recurring_tasks(alice: APIClient) -> None:
    recurring = create(alice, due_date="2026-01-05T09:00:00+00:00", recurrence="FREQ=DAILY")
    once = create(alice, title="Once")

    def listed(value: str) -> list[int]:
        response = alice.get(BASE, {"recurring": value})
        assert response.status_code == 200, response.json()
        return [task["id"] for task in response.json()["results"]]

    assert (listed("true"), listed("false")) == ([recurring["id"]], [once["id"]])
    assert alice.get(BASE).json()["results"] == [once, recurring]


@pytest.mark.parametrize(("query", "code"), [("recurring=yes", "invalid_choice"), ("recurring=", "blank")])
def test_a_recurring_filter_that_makes_no_sense_is_a_400(alice: APIClient, query: str, code: str) -> None:
    assert errors(alice.get(f"{BASE}?{query}")) == [("recurring", code)]


def test_recurring_is_given_once(alice: APIClient) -> None:
    assert errors(alice.get(f"{BASE}?recurring=true&recurring=false")) == [("recurring", "repeated")]


def test_a_recurring_task_completed_since_is_listed_by_its_last_completion(alice: APIClient, clock: Clock) -> None:
    task = create(alice, due_date="2026-01-05T09:00:00+00:00", recurrence="FREQ=DAILY")
    clock.set("2026-01-05T10:00:00+00:00")
    complete(alice, task)

    response = alice.get(BASE, {"completed_after": "2026-01-05T00:00:00", "completed": "false"})

    assert [listed["id"] for listed in response.json()["results"]] == [task["id"]]


# Concurrency (PostgreSQL: row locks)


@pytest.fixture
def postgresql_only() -> Iterator[None]:
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; CI runs this on PostgreSQL")
    yield


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql_only")
def test_simultaneous_completions_of_a_recurring_task_are_each_counted_once() -> None:
    task = services.task_create(
        user_id=ALICE, title="Water", due_date=moment("2030-01-01T09:00:00+00:00"), recurrence="FREQ=DAILY"
    )
    writers = 8
    barrier = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write() -> None:
        try:
            barrier.wait()
            services.task_set_completed(tasks=Task.objects.filter(pk=task.pk), completed=None)
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    done = Task.objects.get(pk=task.pk)
    # Each flip found the task open (a recurring task stays open) and moved it on by one day.
    assert (done.completions, done.completed, done.version) == (writers, False, 1 + writers)
    assert done.due_date == moment("2030-01-01T09:00:00+00:00") + timedelta(days=writers)
