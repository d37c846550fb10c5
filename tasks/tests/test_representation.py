"""The hand-written task representation is exactly what DRF's own fields would write, from a row as from a model."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from rest_framework import serializers
from rest_framework.test import APIClient

from conftest import ALICE
from tasks.models import Priority, Task
from tasks.serializers import FIELDS, PriorityField, TaskSerializer


class DRFTaskSerializer(serializers.ModelSerializer):
    """The same fields, written by DRF field by field."""

    priority = PriorityField()
    tags = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Task
        fields = FIELDS


TASKS = [
    {},
    {"title": "Ünïcödé ✓", "description": 'line\nbreak "quoted"', "tags": ["Work", "é"]},
    {"completed": True, "priority": Priority.HIGH},
    {"priority": Priority.LOW, "due_date": datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))},
    {"due_date": datetime(2026, 12, 1, 9, 30, 0, 0, tzinfo=UTC)},
    {"due_date": datetime(1999, 1, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=-11)))},
]


@pytest.mark.parametrize("fields", TASKS)
def test_it_matches_drfs_own_fields(make_task: Callable[..., Task], fields: dict) -> None:
    task = make_task(**fields)
    task.refresh_from_db()

    assert TaskSerializer(task).data == DRFTaskSerializer(task).data


def test_timestamps_without_microseconds_match_too(make_task: Callable[..., Task]) -> None:
    task = make_task()
    Task.objects.filter(pk=task.pk).update(created_at=datetime(2026, 1, 1, tzinfo=UTC))
    task.refresh_from_db()

    assert (
        TaskSerializer(task).data["created_at"] == DRFTaskSerializer(task).data["created_at"] == "2026-01-01T00:00:00Z"
    )


@pytest.mark.parametrize("fields", TASKS)
def test_a_list_page_writes_a_task_as_its_own_route_does(
    alice: APIClient, make_task: Callable[..., Task], fields: dict
) -> None:
    task = make_task(**fields)

    listed = alice.get(f"/api/{ALICE}/tasks/").json()["results"]

    assert listed == [alice.get(f"/api/{ALICE}/tasks/{task.id}/").json()]
