"""The admin for support staff: find any user's tasks, fix them, complete, soft-delete and restore them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.contrib.contenttypes.models import ContentType
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import ForeignKey
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString

from . import recurrence, services, text, tree
from .conditional import IfMatch
from .history import describe_change
from .models import Task, TaskQuerySet
from .tags import MAX_TAG_LENGTH, MAX_TAGS, clean_tags


class CappedCountPaginator(Paginator):
    """Counts at most ``cap`` tasks, so numbering the pages never reads a whole large table."""

    cap = 10_000

    @cached_property
    def _counted(self) -> int:
        # Unordered and sliced, the count stops after cap + 1 rows instead of reading and sorting them all.
        return self.object_list.order_by()[: self.cap + 1].count()

    @property
    def count(self) -> int:
        return min(self._counted, self.cap)

    @property
    def capped(self) -> bool:
        return self._counted > self.cap


class TagFilter(admin.SimpleListFilter):
    """Tasks carrying one tag, chosen among those of the newest tasks listed (a bounded sample)."""

    title = "tag"
    parameter_name = "tag"
    sample_size = 1000

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        sample = model_admin.get_queryset(request).order_by("-id").values_list("tags", flat=True)[: self.sample_size]
        seen = {tag.casefold(): tag for tags in sample for tag in tags}
        if self.value():
            seen.setdefault(self.value().casefold(), self.value())
        return sorted(seen.items(), key=lambda item: item[0])

    def queryset(self, request: HttpRequest, queryset: TaskQuerySet) -> TaskQuerySet:
        return queryset.tagged([self.value()]) if self.value() else queryset


class UserFilter(admin.SimpleListFilter):
    """One user's tasks, reached by clicking a user id in the list; shown only while it filters."""

    title = "user id"
    parameter_name = "user_id"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        # No list of every user: there may be millions. Only the one chosen, so that it can be cleared.
        return [(self.value(), self.value())] if self.value() else []

    def queryset(self, request: HttpRequest, queryset: TaskQuerySet) -> TaskQuerySet:
        return queryset.owned_by(self.value()) if self.value() else queryset


class RecurringFilter(admin.SimpleListFilter):
    """Tasks with a recurrence rule, or without one."""

    title = "recurring"
    parameter_name = "recurring"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: TaskQuerySet) -> TaskQuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(recurrence__isnull=self.value() == "no")
        return queryset


class StatusFilter(admin.SimpleListFilter):
    """Live or soft-deleted tasks; both when unset."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("live", "Live"), ("deleted", "Deleted")]

    def queryset(self, request: HttpRequest, queryset: TaskQuerySet) -> TaskQuerySet:
        if self.value() == "live":
            return queryset.live()
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


class CommaSeparatedTagsField(forms.CharField):
    """Tags typed as one line, separated by commas, and cleaned by the API's rules (tasks/tags.py)."""

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        typed = super().to_python(value)
        # A comma left at the end, or two in a row, separate nothing: not an empty tag to refuse.
        return clean_tags([tag for tag in typed.split(",") if not text.is_blank(tag)])

    def has_changed(self, initial: Any, data: Any) -> bool:
        # Untouched text is no change, so a tag holding a comma (the API allows it) stays whole unless edited.
        if self.prepare_value(initial or []) == super().to_python(data):
            return False
        try:
            return self.to_python(data) != (initial or [])
        except forms.ValidationError:
            return True


class OwnTasksRawIdWidget(ForeignKeyRawIdWidget):
    """The parent's id box, whose lookup lists only the owner's live tasks: the ones that can be its parent."""

    owner: str | None = None

    def url_parameters(self) -> dict[str, str]:
        # The list's own filters (UserFilter, StatusFilter) read these.
        parameters = super().url_parameters()
        return {**parameters, "user_id": self.owner, "status": "live"} if self.owner else parameters


class TaskForm(forms.ModelForm):
    """The change form, which remembers the version it was rendered with and refuses to save over a newer one."""

    # Without it, saving would silently revert whatever the owner changed through the API meanwhile.
    rendered_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    tags = CommaSeparatedTagsField(
        required=False,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text=f"Separated by commas, e.g. “rent, urgent”: at most {MAX_TAGS} tags of 1 to {MAX_TAG_LENGTH} "
        "characters; the same tag in another letter case is kept once.",
    )

    timezone = forms.ChoiceField(
        label="Time zone",
        choices=[(zone, zone) for zone in sorted(recurrence.zone_names())],
        initial=recurrence.DEFAULT_ZONE,
        help_text="The IANA time zone the rule is expanded in: “every day at 09:00” stays 09:00 there.",
    )

    class Meta:
        model = Task
        fields = "__all__"
        widgets = {"description": forms.Textarea(attrs={"rows": 5}), "recurrence": forms.TextInput(attrs={"size": 60})}
        labels = {"due_date": "Due date (UTC)", "parent": "Parent task", "recurrence": "Recurrence (RRULE)"}
        help_texts = {
            "parent": "The id of the task this one is a subtask of (the owner’s, not deleted), or empty for a "
            f"top-level task. At most {settings.API_MAX_TASK_DEPTH} levels and {settings.API_MAX_TASK_TREE_SIZE} "
            "tasks in a tree."
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rule = "An RFC 5545 rule, e.g. FREQ=WEEKLY;BYDAY=MO,WE; empty for a task that does not recur."
        if self.instance.pk is not None:
            self.initial["rendered_version"] = self.instance.version
            self.fields["parent"].widget.owner = self.instance.user_id  # its lookup's (OwnTasksRawIdWidget)
            # For the history: completing a recurring task counts it (TaskAdmin.construct_change_message).
            self.initial["completions"] = self.instance.completions
            if self.instance.recurrence is not None:
                rule = f"In words: {recurrence.describe(self.instance.recurrence)}, in {self.instance.timezone}. {rule}"
        self.fields["recurrence"].help_text = rule

    def clean_recurrence(self) -> str | None:
        # The API's rules and its normal form: what the API would store for the same text.
        rule = self.cleaned_data["recurrence"]
        return None if rule is None or text.is_blank(rule) else recurrence.normalise(rule)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # The instance was read, locked, in this request's transaction (TaskAdmin.get_object).
        if self.instance.pk is not None and cleaned.get("rendered_version") != self.instance.version:
            raise forms.ValidationError(
                "This task has changed since this page was loaded. Reload the page to see the change, "
                "then make yours again.",
                code="stale",
            )
        parent, user_id = cleaned.get("parent"), self.instance.user_id or cleaned.get("user_id")
        if parent is not None and user_id and "parent" in self.changed_data:
            # The API's rules, under the owner's lock, held by this request's transaction until the save.
            problem = services.parent_problem(user_id=user_id, parent_id=parent.pk, task_id=self.instance.pk)
            if problem is not None:
                self.add_error("parent", forms.ValidationError(problem.message, code=problem.reason))
        return cleaned


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    """Every user's tasks for support staff, soft-deleted ones included: the default manager holds them all."""

    list_display = [
        "id",
        "title",
        "owner",
        "completed",
        "completed_time",
        "priority",
        "due",
        "repeats",
        "tag_list",
        "parent_link",
        "subtasks",
        "position",
        "created",
        "deleted",
    ]
    list_display_links = ["id", "title"]
    # The parent's title, in the same query as the page.
    list_select_related = ["parent"]
    # A box for the parent's id (with a lookup of the owner's tasks), never a menu of every task there is.
    raw_id_fields = ["parent"]
    # completed_at: Django's date filter (today, past 7 days, this month, this year, has or has no date).
    list_filter = ["completed", "completed_at", "priority", RecurringFilter, StatusFilter, TagFilter, UserFilter]
    search_fields = ["title", "=user_id"]
    search_help_text = "Words of the title, or a user's exact id."
    ordering = ["-created_at", "-id"]
    list_per_page = 50
    # Counting a large table is what makes an admin list slow: no unfiltered total, a capped count
    # for the page links, and no per-choice filter counts.
    show_full_result_count = False
    paginator = CappedCountPaginator
    show_facets = admin.ShowFacets.NEVER
    form = TaskForm
    # Set by the services as completed, soft deletion and moves change, never typed in. A position is sortable in the
    # list: with a user chosen (UserFilter), their tasks in the order they gave them (a list of siblings at a time).
    readonly_fields = ["created", "updated", "completed_time", "deleted", "subtasks", "completions", "position"]
    actions = ["mark_complete", "mark_incomplete", "soft_delete", "restore"]

    class Media:
        css = {"all": ["tasks/admin.css"]}

    @admin.display(description="user id", ordering="user_id")
    def owner(self, task: Task) -> SafeString:
        return format_html(
            '<a href="?{}" title="Only this user’s tasks">{}</a>', urlencode({"user_id": task.user_id}), task.user_id
        )

    @admin.display(description="tags")
    def tag_list(self, task: Task) -> str:
        return ", ".join(task.tags)

    @admin.display(description="parent", ordering="parent_id")
    def parent_link(self, task: Task) -> SafeString | str:
        if task.parent_id is None:
            return self.get_empty_value_display()
        url = reverse("admin:tasks_task_change", args=[task.parent_id])
        return format_html('<a href="{}" title="Its parent task">{}</a>', url, task.parent)

    @admin.display(description="subtasks")
    def subtasks(self, task: Task) -> str:
        # Live direct subtasks, as the API counts them.
        if not task.subtasks_total:
            return self.get_empty_value_display()
        return f"{task.subtasks_open} open of {task.subtasks_total}"

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        # The task's one foreign key: its parent.
        kwargs["widget"] = OwnTasksRawIdWidget(db_field.remote_field, self.admin_site)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="repeats")
    def repeats(self, task: Task) -> str:
        if task.recurrence is None:
            return self.get_empty_value_display()
        return f"{recurrence.describe(task.recurrence)} ({task.timezone})"

    # Times are stored and shown in UTC (TIME_ZONE); the labels say so, as staff work from many time zones.
    @admin.display(description="due date (UTC)", ordering="due_date")
    def due(self, task: Task) -> str:
        return self._utc(task.due_date)

    @admin.display(description="created (UTC)", ordering="created_at")
    def created(self, task: Task) -> str:
        return self._utc(task.created_at)

    @admin.display(description="updated (UTC)", ordering="updated_at")
    def updated(self, task: Task) -> str:
        return self._utc(task.updated_at)

    @admin.display(description="completed at (UTC)", ordering="completed_at")
    def completed_time(self, task: Task) -> str:
        return self._utc(task.completed_at)

    @admin.display(description="deleted (UTC)", ordering="deleted_at")
    def deleted(self, task: Task) -> str:
        return self._utc(task.deleted_at)

    def _utc(self, moment: datetime | None) -> str:
        # Formatted here: a read-only field in the change form shows a method's value as it is.
        return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}" if moment else self.get_empty_value_display()

    def get_readonly_fields(self, request: HttpRequest, obj: Task | None = None) -> list[str]:
        # The owner is chosen when a task is created; moving a task to another user is never a fix.
        return [*self.readonly_fields, "user_id"] if obj else self.readonly_fields

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Task | None:
        task = super().get_object(request, object_id, from_field)
        if task is not None and request.method == "POST":
            # Django saves a change form in one transaction: locked from here until it commits, the task
            # cannot change between the form's version check and the service's write. Its owner first, as every
            # service that locks both does, so that the two orders never meet in a deadlock.
            tree.lock_owners([task.user_id])
            task.refresh_from_db(from_queryset=Task.objects.select_for_update())
        return task

    def save_model(self, request: HttpRequest, obj: Task, form: TaskForm, change: bool) -> None:
        if change:
            changes = {_attname(name): getattr(obj, _attname(name)) for name in form.changed_data if name in EDITED}
            rendered = IfMatch.version(obj, form.cleaned_data["rendered_version"])
            tasks = Task.objects.filter(pk=obj.pk)
            # Completing a task completes its open subtasks: each gets its own line in its history.
            cascading = self._subtasks_before([obj.pk], "completed") if changes.get("completed") else {}
            vars(obj).update(vars(services.task_update(tasks=tasks, if_match=rendered, **changes)))
            self._log_subtasks(request, cascading, "completed", "completed")
        else:
            fields = {_attname(name): getattr(obj, _attname(name)) for name in form.fields if name in EDITED}
            # The admin goes on with the instance it passed in (its log entry, the redirect to it).
            vars(obj).update(vars(services.task_create(**fields)))

    def construct_change_message(
        self, request: HttpRequest, form: TaskForm, formsets: Any, add: bool = False
    ) -> str | list[dict[str, Any]]:
        changed = [name for name in form.changed_data if name != "rendered_version"]
        if add or not changed:
            return super().construct_change_message(request, form, formsets, add)
        # The form's initial values are the task as it was read, locked, for this save (get_object); the instance
        # is the task as the service stored it, which is not always what was typed: completing a recurring task
        # keeps it open, moves its due date and counts the completion.
        stored = {name: getattr(form.instance, name) for name in form.initial if name != "rendered_version"}
        return describe_change([name for name in stored if stored[name] != form.initial[name]], form.initial, stored)

    def delete_model(self, request: HttpRequest, obj: Task) -> None:
        # Through the service, so that the owner's devices learn of it: their change feed makes them start over.
        services.tasks_purge(tasks=Task.objects.filter(pk=obj.pk))

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        # Bulk deletes are always soft, as in the API; a purge is one task at a time, by delete_task holders only.
        actions.pop("delete_selected", None)
        return actions

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None and changelist.paginator.capped:
            cap = changelist.paginator.cap
            self.message_user(
                request,
                f"More than {cap:,} tasks match: only the first {cap:,} are counted and paged. "
                "Search or filter to narrow them; “Select all” acts on every match.",
                messages.WARNING,
            )
        return response

    @admin.action(description="Mark selected tasks complete", permissions=["change"])
    def mark_complete(self, request: HttpRequest, queryset: TaskQuerySet) -> None:
        tasks = queryset.filter(completed=False)
        change = partial(services.tasks_set_completed, tasks=tasks, completed=True)
        # A recurring task stays open: its due date moves to the next occurrence and the completion is counted.
        self._apply(request, queryset, change, ["completed", "due_date", "completions"], "marked complete")

    @admin.action(description="Mark selected tasks incomplete", permissions=["change"])
    def mark_incomplete(self, request: HttpRequest, queryset: TaskQuerySet) -> None:
        tasks = queryset.filter(completed=True)
        change = partial(services.tasks_set_completed, tasks=tasks, completed=False)
        self._apply(request, queryset, change, ["completed"], "marked incomplete")

    @admin.action(description="Soft-delete selected tasks", permissions=["change"])
    def soft_delete(self, request: HttpRequest, queryset: TaskQuerySet) -> None:
        # Only live ones (the service sees to it): deleting again would overwrite when the task was deleted.
        self._apply(
            request, queryset, partial(services.tasks_soft_delete, tasks=queryset), ["deleted_at"], "soft-deleted"
        )

    @admin.action(description="Restore selected tasks", permissions=["change"])
    def restore(self, request: HttpRequest, queryset: TaskQuerySet) -> None:
        self._apply(request, queryset, partial(services.tasks_restore, tasks=queryset), ["deleted_at"], "restored")

    def _apply(
        self,
        request: HttpRequest,
        selected: TaskQuerySet,
        change: Callable[[], list[Task]],
        fields: list[str],
        done: str,
    ) -> None:
        """Change the tasks with the service the API uses, and log in each one's history the old → new value of
        those of ``fields`` that changed."""
        # One transaction, as Django's own change form does: a change is never without its log entries.
        with transaction.atomic():
            # Locked (their owners first, as the services lock), so that the values read are the ones the change
            # replaces; their subtasks' too, which a change of theirs may change (a cascade: services._cascade).
            tree.lock_owners(selected.values("user_id"))
            before = {row["pk"]: row for row in selected.select_for_update().values("pk", *fields)}
            # The first of ``fields`` is the one a cascade changes (completed, deleted_at).
            cascading = self._subtasks_before(list(before), fields[0])
            changed = change()  # the tasks, with their new values
            content_type = ContentType.objects.get_for_model(Task)
            LogEntry.objects.bulk_create(
                LogEntry(
                    user_id=request.user.pk,
                    content_type=content_type,
                    object_id=str(task.pk),
                    object_repr=str(task)[:200],
                    action_flag=CHANGE,
                    change_message=f"{done.capitalize()}. "
                    + describe_change(
                        [field for field in fields if getattr(task, field) != before[task.pk][field]],
                        before[task.pk],
                        {field: getattr(task, field) for field in fields},
                    ),
                )
                for task in changed
            )
            self._log_subtasks(request, {pk: old for pk, old in cascading.items() if pk not in before}, fields[0], done)
        self.message_user(request, f"{len(changed)} task{pluralize(len(changed))} {done}.", messages.SUCCESS)

    def _subtasks_before(self, task_ids: list[int], field: str) -> dict[int, Any]:
        """``field`` of every subtask of these tasks at every level, deleted or not, locked until the change is made."""
        below = Task.objects.filter(pk__in=tree.descendants(task_ids, live=False))
        return dict(below.select_for_update().values_list("pk", field))

    def _log_subtasks(self, request: HttpRequest, before: dict[int, Any], field: str, done: str) -> None:
        """A history line for each of these subtasks whose ``field`` a change of a task above it changed."""
        after = Task.objects.filter(pk__in=before).values_list("pk", field, "title")
        content_type = ContentType.objects.get_for_model(Task)
        LogEntry.objects.bulk_create(
            LogEntry(
                user_id=request.user.pk,
                content_type=content_type,
                object_id=str(pk),
                object_repr=title[:200],
                action_flag=CHANGE,
                change_message=f"{done.capitalize()} with a task it is a subtask of. "
                + describe_change([field], {field: before[pk]}, {field: value}),
            )
            for pk, value, title in after
            if value != before[pk]
        )


# The form's fields that are the task's (not rendered_version, the form's own).
EDITED = {field.name for field in Task._meta.concrete_fields}


def _attname(name: str) -> str:
    """A form field's name as the services take it: the parent by its id."""
    return "parent_id" if name == "parent" else name
