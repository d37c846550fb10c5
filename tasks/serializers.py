"""The task as clients see it. Field types are strict: a number is not a string, a string not a boolean."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.fields import empty

from . import recurrence, text
from .datetimes import DATE_TIME_PATTERN, OUT_OF_RANGE, out_of_range, out_of_range_in_utc
from .models import Priority, Task
from .recurrence import DEFAULT_ZONE
from .tags import MAX_TAG_LENGTH, MAX_TAGS, clean_tags


class StrictCharField(serializers.CharField):
    """A JSON string of at most ``max_length`` characters as sent, held to tasks/text.py's rules."""

    default_error_messages = {
        "invalid": "Not a valid string.",
        "unpaired_surrogate": "Contains an unpaired surrogate character.",
    }

    def __init__(self, **kwargs: Any) -> None:
        # Trimmed by tasks/text.py, as tags are, rather than by DRF.
        super().__init__(trim_whitespace=False, **kwargs)

    def run_validation(self, data: Any = empty) -> Any:
        # Checked on the value as sent, before trimming, which turns an all-blank string into "" without
        # looking further (so a 5,000-character run of blanks would pass a max_length of 1,000).
        if data is not empty and data is not None:
            if not isinstance(data, str):
                self.fail("invalid")
            if self.max_length is not None and len(data) > self.max_length:
                self.fail("max_length", max_length=self.max_length)
            if text.has_unpaired_surrogate(data):
                self.fail("unpaired_surrogate")
            data = text.trim(data)
        return super().run_validation(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false``, nothing that merely looks like one."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_LENGTH, "pattern": text.TAG_PATTERN},
        "maxItems": MAX_TAGS,
        "description": f"At most {MAX_TAGS} tags, each 1 to {MAX_TAG_LENGTH} characters, not blank, without control "
        "characters. Trimmed when stored; tags differing only in letter case are one (the first spelling is kept).",
    }
)
class TagsField(serializers.Field):
    """A task's tags, cleaned as tasks.tags says; an error names ``tags`` as a whole."""

    def to_internal_value(self, data: Any) -> list[str]:
        try:
            return clean_tags(data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages, code=exc.code) from exc

    def to_representation(self, value: list[str]) -> list[str]:
        return value


@extend_schema_field(
    {
        "type": "string",
        "format": "date-time",
        "nullable": True,
        "pattern": DATE_TIME_PATTERN,
        "description": "A year from 0002 to 9998, as written and in UTC. Stored and returned in UTC.",
    }
)
class DueDateField(serializers.DateTimeField):
    """An ISO 8601 date-time, in the range tasks/datetimes.py gives, or null."""

    default_error_messages = {"out_of_range": OUT_OF_RANGE}

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str) and out_of_range(value):
            self.fail("out_of_range")
        moment = super().to_internal_value(value)
        if out_of_range_in_utc(moment):
            self.fail("out_of_range")
        return moment


@extend_schema_field(
    {
        "type": "integer",
        "minimum": 1,
        "nullable": True,
        "description": "The id of the task this one is a subtask of, one of the user's live tasks; null for a "
        f"top-level task. Tasks nest at most {settings.API_MAX_TASK_DEPTH} levels deep, a top-level task and its "
        f"subtasks at every level are at most {settings.API_MAX_TASK_TREE_SIZE} tasks, and no task is its own "
        "subtask: a parent_id breaking a rule, or not one of the user's live tasks, is a 400 naming it.",
    }
)
class ParentIdField(serializers.Field):
    """A task id (a JSON integer from 1), or null. Whether it names a task that can be the parent is the services'
    to say, under the owner's lock (tasks/tree.py)."""

    default_error_messages = {"invalid": "A task id (an integer from 1), or null for a top-level task."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_null=True, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        # Any size: an id past the column's range names no task, a 400 like any other such id.
        if isinstance(data, int) and not isinstance(data, bool) and data >= 1:
            return data
        self.fail("invalid")

    def to_representation(self, value: int | None) -> int | None:
        return value


class CheckedStringField(serializers.Field):
    """A JSON string held to ``check``'s rules, which returns it as stored or raises Django's ValidationError: its
    message and code become the field's 400."""

    check: Callable[[str], str]

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return self.check(data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages, code=exc.code) from exc

    def to_representation(self, value: str | None) -> str | None:
        return value


RULE_EXAMPLES = {
    "every day": "FREQ=DAILY",
    "every weekday": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    "every other week": "FREQ=WEEKLY;INTERVAL=2",
    "every month on its last Friday": "FREQ=MONTHLY;BYDAY=-1FR",
    "every day at 09:00 and 17:00, 10 times": "FREQ=DAILY;BYHOUR=9,17;BYMINUTE=0;BYSECOND=0;COUNT=10",
}


RULE_DESCRIPTION = (
    "An RFC 5545 recurrence rule (an RRULE, without DTSTART), or null for a task that does not recur: "
    + "; ".join(f"`{rule}` {meaning}" for meaning, rule in RULE_EXAMPLES.items())
    + f". At most {recurrence.RULE_MAX_LENGTH} characters. FREQ is DAILY, WEEKLY, MONTHLY or YEARLY; then INTERVAL "
    f"(1 to {recurrence.MAX_INTERVAL}), COUNT (1 to {recurrence.MAX_COUNT}) or UNTIL (in UTC: 20261231T235959Z), "
    "BYMONTH, BYWEEKNO and BYYEARDAY (yearly rules), BYMONTHDAY (not weekly), BYDAY (with a position such as -1FR "
    "in monthly and yearly rules), BYHOUR, BYMINUTE, BYSECOND (one), BYSETPOS, WKST. Any order and letter case, "
    "with or without an RRULE: prefix; stored and returned normalised (upper case, no prefix, the parts in this "
    "order, lists sorted without repeats). The rule is "
    "expanded in `timezone` from the due date (the time of the request when there is none): its first occurrence "
    "at or after it becomes the due date, and the parts the rule leaves out (the time of day, the weekday, the day "
    "of the month) are taken from it. Completing the task moves it to its next occurrence after now; with none "
    "left, it is completed for good."
)


@extend_schema_field(
    {
        "type": "string",
        "nullable": True,
        "maxLength": recurrence.RULE_MAX_LENGTH,
        "pattern": recurrence.RULE_PATTERN,
        "example": RULE_EXAMPLES["every weekday"],
        "description": RULE_DESCRIPTION,
    }
)
class RecurrenceField(CheckedStringField):
    """A recurrence rule, normalised (tasks/recurrence.py), or null; an error names ``recurrence``."""

    check = staticmethod(recurrence.normalise)
    default_error_messages = {
        "invalid": 'Give the rule as a string, e.g. "FREQ=WEEKLY;BYDAY=MO,WE", or null for a task that does not recur.'
    }


@extend_schema_field(
    {
        "type": "string",
        "enum": sorted(recurrence.zone_names()),
        "example": "Europe/Berlin",
        "description": "The IANA time zone (e.g. `Europe/Berlin`, `America/New_York`) in which the rule is "
        'expanded: "every day at 09:00" stays 09:00 there across daylight-saving changes. `UTC` unless given.',
    }
)
class TimeZoneField(CheckedStringField):
    """An IANA zone name, written as the tz database writes it."""

    check = staticmethod(recurrence.check_zone)
    default_error_messages = {"invalid": 'Give an IANA time zone name as a string, e.g. "Europe/Berlin".'}


class PriorityField(serializers.ChoiceField):
    """Priorities travel by name (``low``, ``medium``, ``high``) and are stored as ranks."""

    default_error_messages = {"invalid_choice": f'"{{input}}" is not one of {", ".join(Priority.labels)}.'}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Priority.labels, **kwargs)

    def to_internal_value(self, data: Any) -> Priority:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return Priority[super().to_internal_value(data).upper()]

    def to_representation(self, value: int) -> str:
        return Priority(value).label

    def get_default(self) -> Priority:
        return self.to_internal_value(super().get_default())


# A task as clients read and write it. A plain Serializer with every field declared, in the order FIELDS gives: a
# ModelSerializer would build the fields from the model again for every request that sends a task (bench/NOTES.md).
# No docstring: it would become the schema's description of the task.
@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Task fields",
            request_only=True,
            value={
                "title": "Buy milk",
                "description": "2 litres",
                "priority": "high",
                "due_date": "2026-12-01T09:30:00+02:00",
                "tags": ["errands", "home"],
                "parent_id": None,
            },
        ),
        OpenApiExample(
            "A subtask",
            request_only=True,
            value={"title": "Compare prices", "parent_id": 42},
        ),
        OpenApiExample(
            "A task",
            response_only=True,
            value={
                "id": 42,
                "user_id": "alice-3f9c1e7a-5b2d-4c1f-9e8a-7d6b5c4a3f21",
                "title": "Buy milk",
                "description": "2 litres",
                "completed": False,
                "priority": "high",
                "due_date": "2026-12-01T07:30:00Z",
                "tags": ["errands", "home"],
                "created_at": "2026-11-20T18:02:11.532906Z",
                "updated_at": "2026-11-20T18:02:11.532906Z",
                "completed_at": None,
                "deleted_at": None,
                "parent_id": None,
                "subtasks_open": 0,
                "subtasks_total": 0,
                "recurrence": None,
                "timezone": "UTC",
                "completions": 0,
                "position": "Zz",
                "version": 1,
            },
        ),
        OpenApiExample(
            "A recurring task",
            request_only=True,
            value={
                "title": "Team meeting notes",
                "due_date": "2026-12-04T16:00:00+01:00",
                "recurrence": "FREQ=MONTHLY;BYDAY=-1FR",
                "timezone": "Europe/Berlin",
            },
        ),
    ]
)
class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    user_id = serializers.CharField(read_only=True)
    # Explicit defaults make PUT a full replacement; partial updates (PATCH) skip them.
    title = StrictCharField(max_length=200)
    description = StrictCharField(max_length=1000, allow_blank=True, default="")
    completed = StrictBooleanField(default=False)
    priority = PriorityField(default=Priority.MEDIUM.label)
    due_date = DueDateField(allow_null=True, default=None)
    tags = TagsField(default=list)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    # completed_at follows completed (tasks/models.py) or a recurring task's completions (tasks/services.py);
    # deleted_at is set by DELETE, cleared by …/restore/. Both are null when they do not apply, so every task
    # has the same fields.
    completed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    deleted_at = serializers.DateTimeField(read_only=True, allow_null=True)
    parent_id = ParentIdField(default=None)
    subtasks_open = serializers.IntegerField(
        read_only=True, help_text="How many of its live direct subtasks are not completed."
    )
    subtasks_total = serializers.IntegerField(
        read_only=True, help_text="How many live direct subtasks it has (deleted ones are not counted)."
    )
    recurrence = RecurrenceField(allow_null=True, default=None)
    timezone = TimeZoneField(default=DEFAULT_ZONE)
    completions = serializers.IntegerField(
        read_only=True,
        help_text="How many times this recurring task was completed: each completion moves it to its next "
        "occurrence, the last one completes it for good.",
    )
    position = serializers.CharField(
        read_only=True,
        help_text="The task's place in its list, which `…/move/` changes: a key to sort by, byte by byte (ASCII, as "
        'C\'s strcmp or JavaScript\'s `<` compare), e.g. "Zz" < "a0" < "a0V" < "a1". New tasks take a key before '
        "every other one, at the top.",
    )
    # The version is in the representation so that a client that learned of a task from a list or the change
    # feed can build its If-Match without reading the task again.
    version = serializers.IntegerField(
        read_only=True,
        help_text="Bumped by every write; the task's ETag is \"<id>-<version>\". A parent's is bumped too whenever "
        "its subtask counts change.",
    )

    def to_representation(self, task: Task) -> dict[str, Any]:
        return self.row_to_representation(_row(task))

    @staticmethod
    def row_to_representation(row: Sequence[Any]) -> dict[str, Any]:
        """A task's representation from its row: the values of ``FIELDS``, a model's or a database row's.

        Written out, not left to DRF's field-by-field machinery, which was a large part of a list
        request's CPU (BENCHMARKS.md). The output is DRF's to the byte: a test compares them.
        """
        (
            id_,
            user_id,
            title,
            description,
            completed,
            priority,
            due_date,
            tags,
            created_at,
            updated_at,
            completed_at,
            deleted_at,
            parent_id,
            subtasks_open,
            subtasks_total,
            rule,
            zone,
            completions,
            position,
            version,
        ) = row
        return {
            "id": id_,
            "user_id": user_id,
            "title": title,
            "description": description,
            "completed": bool(completed),
            "priority": _PRIORITY_LABELS[priority],
            "due_date": utc_iso(due_date),
            "tags": tags,
            "created_at": utc_iso(created_at),
            "updated_at": utc_iso(updated_at),
            "completed_at": utc_iso(completed_at),
            "deleted_at": utc_iso(deleted_at),
            "parent_id": parent_id,
            "subtasks_open": subtasks_open,
            "subtasks_total": subtasks_total,
            "recurrence": rule,
            "timezone": zone,
            "completions": completions,
            "position": position,
            "version": version,
        }


# The fields in their order: a list page and the change feed read them as their rows, in this order.
FIELDS = tuple(TaskSerializer().fields)
_row = attrgetter(*FIELDS)
_PRIORITY_LABELS = dict(Priority.choices)


def utc_iso(moment: datetime | None) -> str | None:
    """What DRF's DateTimeField writes with TIME_ZONE = "UTC": ISO 8601, in UTC, with a Z."""
    if moment is None:
        return None
    written = moment.astimezone(UTC).isoformat()
    return written[:-6] + "Z" if written.endswith("+00:00") else written


@extend_schema_serializer(
    examples=[
        OpenApiExample("Flip completed", value={}, request_only=True),
        OpenApiExample("Mark completed", value={"completed": True}, request_only=True),
    ]
)
class TaskCompletionSerializer(serializers.Serializer):
    """Body of ``PATCH …/complete/``: without ``completed`` the task's state flips; any other field is a 400."""

    completed = StrictBooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Ignored, a field sent here (a title, a priority) would look saved when nothing but completion changed.
        # Only the first is named: the answer stays small whatever the body holds.
        unknown = next((name for name in self.initial_data if name not in self.fields), None)
        if unknown is not None:
            raise serializers.ValidationError(
                f'This action takes only "completed" (or nothing, to flip it), not "{unknown}": '
                "change other fields with PATCH on the task itself.",
                code="unknown_field",
            )
        return attrs


class NeighbourIdField(serializers.IntegerField):
    """The id of the task a move puts another next to: a JSON integer from 1, nothing that merely looks like one
    (``"17"``, ``17.0``, ``true``)."""

    default_error_messages = {
        "invalid": "A task id: a positive integer, e.g. 17.",
        "null": "A task id: a positive integer, e.g. 17.",
        "min_value": "A task id: a positive integer, e.g. 17.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        # Any size: an id past the column's range names no task, which the service says like any other.
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_serializer(
    examples=[
        OpenApiExample("Before another task", value={"before": 17}, request_only=True),
        OpenApiExample("After another task", value={"after": 17}, request_only=True),
        OpenApiExample("To the top of another task's subtasks", value={"parent_id": 42}, request_only=True),
        OpenApiExample(
            "Among the top-level tasks, after one", value={"parent_id": None, "after": 17}, request_only=True
        ),
    ]
)
class TaskMoveSerializer(serializers.Serializer):
    """Body of ``POST …/move/``: where the task goes: right before one sibling or right after one, in its list or in
    another parent's (``parent_id``, at its top without a sibling)."""

    before = NeighbourIdField(
        required=False, help_text="Put the task right before this one: another live task of the list it goes to."
    )
    after = NeighbourIdField(
        required=False, help_text="Put the task right after this one: another live task of the list it goes to."
    )
    parent_id = ParentIdField(
        required=False,
        help_text="Move the task under this task (null: to the top level), at the top of its subtasks unless "
        "before or after says where among them.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Only the first unknown field is named: the answer stays small whatever the body holds.
        unknown = next((name for name in self.initial_data if name not in self.fields), None)
        if unknown is not None:
            raise serializers.ValidationError(
                f'This action takes "before" or "after" (a task id) and "parent_id", not "{unknown}".',
                code="unknown_field",
            )
        if "before" in attrs and "after" in attrs:
            raise serializers.ValidationError(
                'Give "before" or "after", not both: the task goes right next to one task.', code="before_and_after"
            )
        if not attrs:
            raise serializers.ValidationError(
                'Say where the task goes: {"before": <id>} or {"after": <id>}, the id of another task in its list, '
                'or {"parent_id": <id or null>} for another list.',
                code="required",
            )
        return attrs


class TombstoneSerializer(serializers.Serializer):
    """A task deleted since the cursor: forget it."""

    id = serializers.IntegerField()
    deleted_at = serializers.DateTimeField()


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Changes since a cursor",
            value={
                "changed": [
                    {
                        "id": 42,
                        "user_id": "alice-3f9c1e7a-5b2d-4c1f-9e8a-7d6b5c4a3f21",
                        "title": "Buy milk",
                        "description": "2 litres",
                        "completed": True,
                        "priority": "high",
                        "due_date": "2026-12-01T07:30:00Z",
                        "tags": ["errands", "home"],
                        "created_at": "2026-11-20T18:02:11.532906Z",
                        "updated_at": "2026-11-21T08:15:40.100200Z",
                        "completed_at": "2026-11-21T08:15:40.100200Z",
                        "deleted_at": None,
                        "parent_id": None,
                        "subtasks_open": 0,
                        "subtasks_total": 0,
                        "recurrence": None,
                        "timezone": "UTC",
                        "completions": 0,
                        "position": "Zz",
                        "version": 2,
                    }
                ],
                "deleted": [{"id": 17, "deleted_at": "2026-11-21T08:16:02.004511Z"}],
                "cursor": "WzEyOCwwXQ:1tKkVx:3o1Yf5m8pQm2k8QeH5xM3w0S0h8r6vB9dJ1Zk2lYc4E",
                "has_more": False,
            },
        )
    ]
)
class TaskChangesSerializer(serializers.Serializer):
    """An answer of the change feed (tasks/changes.py builds it; this documents it)."""

    changed = TaskSerializer(
        many=True, help_text="Tasks created or changed since the cursor, as they are now: add or replace them."
    )
    deleted = TombstoneSerializer(many=True, help_text="Tasks deleted since the cursor: remove them.")
    cursor = serializers.CharField(help_text="Send it back as `since` to get what changes next.")
    has_more = serializers.BooleanField(help_text="More changes are waiting: call again at once with this cursor.")
