"""A task's place among its siblings: a fractional key (the fractional-indexing scheme), compared byte by byte.

Keys are strings of ``0-9A-Za-z`` whose order is their byte order, so any client can sort by them, and a task can
move between two others by taking a key between theirs: one row written, no sibling renumbered. A key between two
neighbours is about one character longer for every six moves into the same gap, so a spot hit over and over makes
long keys: past ``REBALANCE_LENGTH`` characters the list gets short keys again (services.list_rebalance, once the
move has committed); ``POSITION_MAX_LENGTH`` is the column's bound, which no key ever passes.

Only the keys are here; which tasks are siblings is TaskQuerySet.siblings, and every write of a position is a
service (tasks/services.py).
"""

from __future__ import annotations

from fractional_indexing import generate_key_between, generate_n_keys_between

# The column's length: a move whose key would be longer rebalances its list first, in its own transaction.
POSITION_MAX_LENGTH = 128
# A key longer than this has its list rebalanced after the write that made it commits: some 400 moves into one gap
# from fresh keys, so rarely, and with room to spare for the moves made while a rebalance cannot run.
REBALANCE_LENGTH = 64


def key_between(lower: str | None, upper: str | None) -> str:
    """A key after ``lower`` and before ``upper`` (None: no bound on that side), as short as the scheme makes it."""
    return generate_key_between(lower, upper)


def key_before(first: str | None) -> str:
    """A key before ``first``, the top of a list (its first key, or None for an empty list): a short one, whatever
    ``first`` is."""
    return generate_key_between(None, first)


def keys_before(first: str | None, count: int) -> list[str]:
    """``count`` keys before ``first``, in order: the top of a list for tasks created together."""
    return generate_n_keys_between(None, first, count)


def keys_after(last: str, count: int) -> list[str]:
    """``count`` short keys after ``last``, in order: a rebalanced list's. Each is after every key a list holding
    ``last`` as its greatest has, so none of them is taken while the list's rows are being rewritten one by one."""
    return generate_n_keys_between(last, None, count)
