"""The text rules: what a title, a description or a tag may hold, and how it is stored.

Every one is trimmed of the same whitespace and refuses unpaired surrogates. Titles and descriptions
refuse NUL (DRF's CharField checks it); tags refuse every control character (one separates them in
Task.tag_keys). The OpenAPI patterns below are built from the same constants as the checks, in the
schema's regex dialect (ECMAScript), which disagrees with Python on what ``\\s`` means: whitespace is
spelled out.
"""

from __future__ import annotations

import re

# What trim() removes: Python's whitespace (str.isspace, as DRF's trimming), the last of which is U+3000.
WHITESPACE = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())
# As regex character-class ranges: NUL, and Unicode's control characters (category Cc).
NUL = r"\x00"
CONTROL = r"\x00-\x1f\x7f-\x9f"
_CONTROL_CHARACTER = re.compile(f"[{CONTROL}]")


def trim(text: str) -> str:
    """The text as stored: without leading or trailing whitespace."""
    return text.strip(WHITESPACE)


def is_blank(text: str) -> bool:
    """Nothing left once trimmed."""
    return not trim(text)


def has_unpaired_surrogate(text: str) -> bool:
    """JSON can carry one (``"\\ud800"``); no database can store it."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def has_control_character(text: str) -> bool:
    return _CONTROL_CHARACTER.search(text) is not None


def _not_blank_pattern(refused: str) -> str:
    """A schema pattern: no character of the class ``refused``, and one that is neither that nor whitespace."""
    blanks = "".join(f"\\u{ord(blank):04x}" for blank in WHITESPACE if not re.fullmatch(f"[{refused}]", blank))
    return rf"^[^{refused}]*[^{refused}{blanks}][^{refused}]*$"


# What a title (and a description, but for "") may be, and what one with a NUL matches.
TEXT_PATTERN = _not_blank_pattern(NUL)
CONTAINS_NUL = NUL
# What a tag may be, checked as such by tasks/tags.py.
TAG_PATTERN = _not_blank_pattern(CONTROL)
