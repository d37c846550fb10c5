"""A task's change as its admin history shows it: each field's old → new value, so a mistaken change can be
undone from the history alone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.utils.text import capfirst

from .models import Priority, Task

EMPTY = "(empty)"


def show(field: str, value: Any) -> str:
    """A value as support staff would type it back into the change form."""
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    if field == "priority":
        return Priority(value).label
    if field == "tags":
        return ", ".join(value)
    if isinstance(value, Task):  # a parent: its id is what the form takes
        return f"“{value}” (task {value.pk})"
    if isinstance(value, int):
        return str(value)
    return f"“{value}”"


def describe_change(fields: Iterable[str], old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """E.g. ``Title: “Wter the plants” → “Water the plants”. Due date: (empty) → 2026-12-01 09:30:00 UTC.``"""
    return " ".join(
        f"{capfirst(Task._meta.get_field(field).verbose_name)}: {show(field, old[field])} → {show(field, new[field])}."
        for field in fields
    )
