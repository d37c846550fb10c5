"""Tags: short labels a user puts on tasks, matched whole and in any letter case.

A tag is 1 to 50 characters with no control characters and at least one that is not blank. It is
stored trimmed, and tags that differ only in letter case are one tag (the first spelling is kept).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError

MAX_TAGS = 20
MAX_TAG_LENGTH = 50
# Trimmed from both ends: Unicode's space separators and the line and paragraph separators, spelled out
# (not \s) because Python and ECMAScript, the OpenAPI schema's regex dialect, disagree on what \s is.
_BLANKS = (
    " \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_CONTROL = r"\x00-\x1f\x7f-\x9f"
_BLANK = "".join(f"\\u{ord(blank):04x}" for blank in _BLANKS)
# No control character anywhere, and at least one character that is neither control nor blank.
TAG_PATTERN = rf"^[^{_CONTROL}]*[^{_CONTROL}{_BLANK}][^{_CONTROL}]*$"
_TAG = re.compile(TAG_PATTERN)
# Separates tag keys in Task.tag_keys: a control character, so never part of a tag.
_SEPARATOR = "\x1f"


def clean_tag(tag: object) -> str:
    """The tag as stored, or a ValidationError (code ``invalid_tag``)."""
    if not isinstance(tag, str) or len(tag) > MAX_TAG_LENGTH or not _TAG.fullmatch(tag) or _unpaired_surrogate(tag):
        raise ValidationError(
            f"A tag is 1 to {MAX_TAG_LENGTH} characters, not all blank, without control characters.",
            code="invalid_tag",
        )
    return tag.strip(_BLANKS)


def _unpaired_surrogate(text: str) -> bool:
    # JSON can carry one ("\ud800"); no database can store it.
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


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
    """Stored tags are already clean (the admin edits them as JSON)."""
    if clean_tags(tags) != tags:
        raise ValidationError("Tags must be trimmed and differ in more than letter case.", code="invalid_tags")


def tag_key(tag: str) -> str:
    """How one tag is matched: case-insensitively, and only as a whole tag."""
    return f"{_SEPARATOR}{tag.casefold()}{_SEPARATOR}"


def tag_keys(tags: Iterable[str]) -> str:
    return "".join(map(tag_key, tags))
