"""The text rules are one set: titles, descriptions and tags trim alike, and the schema says what the checks do."""

from __future__ import annotations

import re
import sys

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from conftest import ALICE
from tasks import text
from tasks.tags import clean_tag

BASE = f"/api/{ALICE}/tasks/"
# Every character the rules treat apart, alone and around a letter.
SPECIAL = [*text.WHITESPACE, *map(chr, [*range(0x20), *range(0x7F, 0xA0)]), "\u200b", "\ufeff", "\ud800"]
SAMPLES = ["", "a", *SPECIAL, *(f"{c}a{c}" for c in SPECIAL), *(f"a{c}a" for c in SPECIAL)]


def test_trimming_removes_every_whitespace_character_python_knows() -> None:
    whitespace = "".join(chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace())

    assert text.WHITESPACE == whitespace


def tag_taken(sample: str) -> bool:
    try:
        clean_tag(sample)
    except ValidationError:
        return False
    return True


def test_the_tag_pattern_takes_exactly_the_tags_the_api_takes() -> None:
    # The surrogate rule has no pattern (a JSON Schema string cannot hold one); the length is maxLength's.
    disagreements = [
        s for s in SAMPLES if bool(re.fullmatch(text.TAG_PATTERN, s)) != tag_taken(s) and "\ud800" not in s
    ]

    assert disagreements == []


def test_the_text_patterns_take_exactly_the_titles_the_api_takes() -> None:
    def taken(sample: str) -> bool:
        return not text.is_blank(sample) and "\x00" not in sample

    assert [s for s in SAMPLES if bool(re.fullmatch(text.TEXT_PATTERN, s)) != taken(s)] == []
    assert [s for s in SAMPLES if bool(re.search(text.CONTAINS_NUL, s)) != ("\x00" in s)] == []


@pytest.mark.parametrize("blank", [" ", "\u00a0", "\u2028", "\u3000"])
def test_titles_descriptions_and_tags_are_trimmed_alike(alice: APIClient, blank: str) -> None:
    sent = f"{blank}x{blank}"

    task = alice.post(BASE, {"title": sent, "description": sent, "tags": [sent]}).json()

    assert (task["title"], task["description"], task["tags"]) == ("x", "x", ["x"])
