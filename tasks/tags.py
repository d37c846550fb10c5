"""Tags: short labels a user puts on tasks, matched whole and in any letter case.

A tag is 1 to 50 characters with no control characters and at least one that is not blank, as
tasks/text.py says. It is stored trimmed, and tags that differ only in letter case are one tag (the first
spelling is kept).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError

from . import text

MAX_TAGS = 20
MAX_TAG_LENGTH = 50
# Separates tag keys in Task.tag_keys: a control character, so never part of a tag.
_SEPARATOR = "\x1f"


def clean_tag(tag: object) -> str:
    """The tag as stored, or a ValidationError (code ``invalid_tag``)."""
    if (
        not isinstance(tag, str)
        or len(tag) > MAX_TAG_LENGTH
        or text.has_control_character(tag)
        or text.has_unpaired_surrogate(tag)
        or text.is_blank(tag)
    ):
        raise ValidationError(
            f"A tag is 1 to {MAX_TAG_LENGTH} characters, not all blank, without control characters.",
            code="invalid_tag",
        )
    return text.trim(tag)


def clean_tags(tags: object) -> list[str]:
    """The tags as stored: each cleaned, the repeats in another letter case dropped."""
    if not isinstance(tags, list):
        raise ValidationError("Tags are a list of strings.", code="not_a_list")
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"A task has at most {MAX_TAGS} tags.", code="too_many_tags")
    kept: dict[str, str] = {}
    for tag in map(clean_tag, tags):
        kept.setdefault(tag.casefold(), tag)
    return list(kept.values())


def validate_tags(tags: object) -> None:
    """Stored tags are already clean: a model save that skipped clean_tags is refused."""
    if clean_tags(tags) != tags:
        raise ValidationError("Tags must be trimmed and differ in more than letter case.", code="invalid_tags")


def tag_key(tag: str) -> str:
    """How one tag is matched: case-insensitively, and only as a whole tag."""
    return f"{_SEPARATOR}{tag.casefold()}{_SEPARATOR}"


def tag_keys(tags: Iterable[str]) -> str:
    return "".join(map(tag_key, tags))
