"""List filters and ordering. An unknown value is a 400 naming the parameter, never silently ignored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.conf import settings
from django.db.models import F, OrderBy
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import filters as drf_filters
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.request import Request

from .datetimes import OUT_OF_RANGE, out_of_range, out_of_range_in_utc
from .models import Priority, Task, TaskQuerySet
from .pagination import parse_count
from .tags import clean_tag

# Given with an empty value, these are a 400 rather than silently no filter.
NON_EMPTY_FILTERS = [
    "deleted",
    "completed",
    "recurring",
    "priority",
    "due_before",
    "due_after",
    "completed_before",
    "completed_after",
    "ordering",
    "parent",
]
_TRUE_FALSE = [("true", "true"), ("false", "false")]
ORDERING_FIELDS = [
    "created_at",
    "updated_at",
    "title",
    "priority",
    "due_date",
    "completed",
    "completed_at",
    "position",
]
# Ordered by these, tasks without a value (no due date, not completed) come last both ways.
NULLS_LAST = {"due_date", "completed_at"}


def invalid_choice(values: list[str], *, suffix: str = "") -> dict[str, str]:
    """A form field's error message for a value that is not a choice: it lists the ones there are."""
    return {"invalid_choice": f'"%(value)s" is not one of {", ".join(values)}{suffix}.'}


class TaskSearchFilter(drf_filters.SearchFilter):
    """DRF's search (every word must appear in one of ``search_fields``), its errors naming ``search``."""

    search_description = "Only tasks with every word of this in their title or description, ignoring case."

    def get_search_terms(self, request: Request) -> list[str]:
        # Each word is a pair of LIKEs over every one of the user's tasks: a thousand words took seconds, and
        # thousands sent PostgreSQL's JIT compiler away for minutes. The length is checked before any splitting.
        max_length, max_words = settings.API_SEARCH_MAX_LENGTH, settings.API_SEARCH_MAX_WORDS
        if len(request.query_params.get(self.search_param, "")) > max_length:
            detail = f"Search with at most {max_length} characters; shorten the search."
            raise ValidationError({self.search_param: [ErrorDetail(detail, code="search_too_long")]})
        try:
            terms = super().get_search_terms(request)
        except ValidationError as exc:
            raise ValidationError({self.search_param: exc.detail}) from exc
        if len(terms) > max_words:
            detail = f"Search with at most {max_words} words; leave out the least telling ones."
            raise ValidationError({self.search_param: [ErrorDetail(detail, code="too_many_words")]})
        return terms


class TagParametersField(forms.Field):
    """Every ``?tag=`` given (the parameter repeats), each a tag as the API stores them."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        # Each tag is a LIKE over every one of the user's tasks; counted before any is cleaned.
        tags = value or []
        if len(tags) > settings.API_MAX_TAG_FILTERS:
            raise forms.ValidationError(
                f"Filter by at most {settings.API_MAX_TAG_FILTERS} tags at once; leave some out.",
                code="too_many_tags",
            )
        return [clean_tag(tag) for tag in tags]


# Documented in tasks/schema.py as a repeatable string parameter.
@extend_schema_field(OpenApiTypes.STR)
class AllTagsFilter(filters.Filter):
    """Tasks that carry every tag given."""

    field_class = TagParametersField

    def filter(self, qs: TaskQuerySet, value: list[str]) -> TaskQuerySet:
        return qs.tagged(value)


# ?parent= as the schema states it (tasks/schema.py): a task id in plain digits, or none.
PARENT_PATTERN = r"^(none|[1-9][0-9]*)$"


class ParentParameterField(forms.Field):
    """``?parent=``: a task id in plain digits, or ``none`` for the top level."""

    default_error_messages = {
        "invalid": "Give the id of a task (plain digits) to list its subtasks, or none to list top-level tasks."
    }

    def to_python(self, value: Any) -> int | str | None:
        if value in (None, "", "none"):
            return value or None
        # Checked as text: int() would also take " 7", "+7" and "٧", and choke on 5,000 digits.
        count = parse_count(value)
        if count is None or count < 1 or value.startswith("0"):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return count


@extend_schema_field(OpenApiTypes.STR)
class ParentFilter(filters.Filter):
    """The direct subtasks of one task (live ones; the trash's with ?deleted=true), or the top-level tasks."""

    field_class = ParentParameterField

    def filter(self, qs: TaskQuerySet, value: int | str | None) -> TaskQuerySet:
        if value is None:
            return qs
        if value == "none":
            return qs.filter(parent__isnull=True)
        # parse_count() caps an id past the column's range at its largest value, which names no task.
        return qs.filter(parent_id=value)


class UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time in the range tasks/datetimes.py gives, handed to the database in UTC:
    PostgreSQL refuses offsets past ±15:59."""

    default_error_messages = {"out_of_range": OUT_OF_RANGE}

    def to_python(self, value: Any) -> datetime | None:
        if isinstance(value, str) and out_of_range(value):
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        moment = super().to_python(value)
        if moment is None:
            return None
        if out_of_range_in_utc(moment):
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        return moment.astimezone(UTC)


class UTCDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


REPEATED = {"ordering": "Give ordering once, with its fields comma-separated: ?ordering=title,-priority."}


class TaskFilterForm(forms.Form):
    """A filter given with no value (``?completed=``, or ``?ordering=title,`` with an empty field), or given
    twice, is a mistake to report, not "no filter" or "the last one"."""

    def clean(self) -> dict[str, Any]:
        blank = "Give this parameter a value, or leave it out."
        for name in NON_EMPTY_FILTERS:
            # Django's forms would silently take the last one given.
            if len(self.data.getlist(name)) > 1:
                self.add_error(
                    name, forms.ValidationError(REPEATED.get(name, "Give this parameter once."), code="repeated")
                )
            value = self.data.get(name, None)
            values = value.split(",") if name == "ordering" and value is not None else [value]
            if "" in values:
                self.add_error(name, forms.ValidationError(blank, code="blank"))
        return super().clean()


class TaskOrderingFilter(filters.OrderingFilter):
    """Orders by the requested fields, then newest id first so that pages never overlap."""

    def filter(self, qs: TaskQuerySet, value: list[str] | None) -> TaskQuerySet:
        if not value:
            return qs
        return qs.order_by(*(self._order_by(param) for param in value), "-id")

    def _order_by(self, param: str) -> OrderBy:
        descending = param.startswith("-")
        field = F(self.param_map[param.lstrip("-")])
        # On SQLite and PostgreSQL alike.
        nulls_last = True if field.name in NULLS_LAST else None
        return field.desc(nulls_last=nulls_last) if descending else field.asc(nulls_last=nulls_last)


class TaskFilter(filters.FilterSet):
    # The trash: which tasks a list reads is TaskViewSet.get_queryset's choice, the ownership boundary. Declared
    # here so that it is validated like every other filter (a 400 for "?deleted=yes", never the live list).
    deleted = filters.TypedChoiceFilter(
        choices=_TRUE_FALSE,
        coerce=lambda value: value == "true",
        error_messages=invalid_choice(["true", "false"]),
        method="chosen_by_get_queryset",
    )
    completed = filters.TypedChoiceFilter(
        choices=_TRUE_FALSE,
        coerce=lambda value: value == "true",
        error_messages=invalid_choice(["true", "false"]),
    )
    recurring = filters.TypedChoiceFilter(
        field_name="recurrence",
        lookup_expr="isnull",
        choices=_TRUE_FALSE,
        # "Recurring" is "has a rule": recurrence IS NOT NULL.
        coerce=lambda value: value == "false",
        error_messages=invalid_choice(["true", "false"]),
    )
    priority = filters.TypedChoiceFilter(
        choices=[(label, label) for label in Priority.labels],
        coerce=lambda label: Priority[label.upper()],
        error_messages=invalid_choice(Priority.labels),
    )
    due_before = UTCDateTimeFilter(
        field_name="due_date",
        lookup_expr="lt",
        label="Due strictly before",
        help_text="Only tasks due strictly before this ISO 8601 date-time (UTC without an offset); "
        "tasks without a due date never match.",
    )
    due_after = UTCDateTimeFilter(
        field_name="due_date",
        lookup_expr="gt",
        label="Due strictly after",
        help_text="Only tasks due strictly after this ISO 8601 date-time (UTC without an offset); "
        "tasks without a due date never match.",
    )
    completed_before = UTCDateTimeFilter(
        field_name="completed_at",
        lookup_expr="lt",
        label="Completed strictly before",
        help_text="Only tasks completed strictly before this ISO 8601 date-time (UTC without an offset), by their "
        "last completion; tasks without a completion time never match.",
    )
    completed_after = UTCDateTimeFilter(
        field_name="completed_at",
        lookup_expr="gt",
        label="Completed strictly after",
        help_text="Only tasks completed strictly after this ISO 8601 date-time (UTC without an offset), by their "
        "last completion; tasks without a completion time never match.",
    )
    tag = AllTagsFilter()
    parent = ParentFilter()
    ordering = TaskOrderingFilter(
        fields=ORDERING_FIELDS,
        error_messages=invalid_choice(ORDERING_FIELDS, suffix=", each optionally prefixed with - for descending"),
        label="Sort by these fields, comma-separated; prefix with - for descending",
        help_text="Sort by these fields, comma-separated, each prefixed with - for descending. `priority` sorts "
        "by importance (low < medium < high); tasks without a due date (by `due_date`) or a completion time (by "
        "`completed_at`) come last either way; `position` is the order the user gave a list (`…/move/`), new tasks "
        "first: with `parent=`, one list (a task's subtasks, or the top level) in its order. "
        "Newest first when not given.",
    )

    _form_class: type[forms.Form] | None = None

    def get_form_class(self) -> type[forms.Form]:
        # django-filter builds a new form class on every request (~6% of a list's CPU); its fields never change.
        if TaskFilter._form_class is None:
            TaskFilter._form_class = super().get_form_class()
        return TaskFilter._form_class

    def chosen_by_get_queryset(self, qs: TaskQuerySet, name: str, value: bool) -> TaskQuerySet:
        return qs

    class Meta:
        model = Task
        form = TaskFilterForm
        fields = [
            "deleted",
            "completed",
            "recurring",
            "priority",
            "due_before",
            "due_after",
            "completed_before",
            "completed_after",
        ]
