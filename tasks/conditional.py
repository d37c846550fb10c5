"""Conditional requests on one task: a strong ETag of its representation, If-Match and If-None-Match."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from django.utils.http import parse_etags
from rest_framework import status
from rest_framework.exceptions import APIException


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The task has changed since you read it: fetch it again and retry."
    default_code = "precondition_failed"


def etag_for(representation: dict[str, Any]) -> str:
    """A strong validator: equal exactly when the task's JSON representation is equal."""
    canonical = orjson.dumps(representation, option=orjson.OPT_SORT_KEYS)
    return f'"{hashlib.sha256(canonical).hexdigest()[:32]}"'


def if_match_passes(header: str, etag: str) -> bool:
    """RFC 9110 If-Match, strong comparison: a weak tag never matches."""
    tags = parse_etags(header)
    return tags == ["*"] or etag in tags


def if_none_match_hits(header: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match, weak comparison: true when the client already holds this representation."""
    if header is None:
        return False
    tags = parse_etags(header)
    return tags == ["*"] or etag in (tag.removeprefix("W/") for tag in tags)
