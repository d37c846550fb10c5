"""Our JSON renderer writes exactly the bytes DRF's would, whatever the data: only faster."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import pytest
from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import strategies as st
from rest_framework import renderers
from rest_framework.exceptions import ErrorDetail

from common.renderers import OrjsonRenderer

JSON_WITHOUT_FLOATS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=30,
)


def outcome(renderer: renderers.JSONRenderer, data: Any, media_type: str | None = None) -> bytes | type:
    try:
        return renderer.render(data, media_type)
    except Exception as exc:  # the kind of failure is part of what must match
        return type(exc)


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"id": 1, "title": "Buy milk", "completed": False, "due_date": None, "tags": ["errands", "home"]},
        {"title": 'line\u2028separator\u2029paragraph, NUL \x00, DEL \x7f, é, 😀, "quotes" \\ /'},
        {"type": "validation_error", "errors": [{"code": "invalid", "detail": ErrorDetail("Bad.", "invalid")}]},
        {"detail": gettext_lazy("Not found.")},
        {"moment": datetime.datetime(2026, 11, 23, 7, 9, 31, 595123, tzinfo=datetime.UTC)},
        {"day": datetime.date(2026, 11, 23), "amount": decimal.Decimal("1.50"), "id": uuid.UUID(int=7)},
        {"count": 2**70},
        {1: "a key that is not a string"},
        {"set": {1, 2}},
        [],
        "",
    ],
)
@pytest.mark.parametrize("media_type", [None, "application/json", "application/json; indent=4"])
def test_writes_what_drf_writes(data: Any, media_type: str | None) -> None:
    assert outcome(OrjsonRenderer(), data, media_type) == outcome(renderers.JSONRenderer(), data, media_type)


@given(JSON_WITHOUT_FLOATS)
def test_writes_what_drf_writes_for_any_json_without_floats(data: Any) -> None:
    assert outcome(OrjsonRenderer(), data) == outcome(renderers.JSONRenderer(), data)
