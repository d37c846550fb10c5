"""Text made safe to log: no query strings (they may carry tokens), and a bounded length."""

from __future__ import annotations

import re

# A "?" and what follows it up to whitespace or a quote: the query string of a URL or of a request line.
_QUERY = re.compile(r"\?[^\s\"']*")
TRUNCATED = "…[truncated]"


def redact(text: str, limit: int = 500) -> str:
    """``text`` without query strings, cut to ``limit`` characters (marked) when longer."""
    text = _QUERY.sub("?[redacted]", text)
    if len(text) > limit:
        return text[: max(limit - len(TRUNCATED), 0)] + TRUNCATED
    return text
