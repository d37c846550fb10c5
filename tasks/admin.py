"""The admin for support staff: find any user's tasks, fix them, complete, soft-delete and restore them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import pluralize
from django.utils.functional import cached_property

from . import services
from .conditional import IfMatch
from .models import Task, TaskQuerySet


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


class TaskForm(forms.ModelForm):
    """The change form, which remembers the version it was rendered with and refuses to save over a newer one."""

    # Without it, saving would silently revert whatever the owner changed through the API meanwhile.
    rendered_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Task
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["rendered_version"] = self.instance.version

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # The instance was read, locked, in this request's transaction (TaskAdmin.get_object).
        if self.instance.pk is not None and cleaned.get("rendered_version") != self.instance.version:
            raise forms.ValidationError(
                "This task has changed since this page was loaded. Reload the page to see the change, "
                "then make yours again.",
                code="stale",
            )
        return cleaned


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    """Every user's tasks for support staff, soft-deleted ones included: the default manager holds them all."""

    list_display = [
        "id",
        "title",
        "user_id",
        "completed",
        "priority",
        "due_date",
        "tag_list",
        "created_at",
        "deleted_at",
    ]
    list_display_links = ["id", "title"]
    list_filter = ["completed", "priority", StatusFilter, TagFilter]
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
    readonly_fields = ["created_at", "updated_at", "deleted_at"]
    actions = ["mark_complete", "mark_incomplete", "soft_delete", "restore"]

    @admin.display(description="tags")
    def tag_list(self, task: Task) -> str:
        return ", ".join(task.tags)

    def get_readonly_fields(self, request: HttpRequest, obj: Task | None = None) -> list[str]:
        # The owner is chosen when a task is created; moving a task to another user is never a fix.
        return [*self.readonly_fields, "user_id"] if obj else self.readonly_fields

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Task | None:
        task = super().get_object(request, object_id, from_field)
        if task is not None and request.method == "POST":
            # Django saves a change form in one transaction: locked from here until it commits, the task
            # cannot change between the form's version check and the service's write.
            task.refresh_from_db(from_queryset=Task.objects.select_for_update())
        return task

    def save_model(self, request: HttpRequest, obj: Task, form: TaskForm, change: bool) -> None:
        if change:
            changes = {name: getattr(obj, name) for name in form.changed_data if name != "rendered_version"}
            rendered = IfMatch.version(obj, form.cleaned_data["rendered_version"])
            services.task_update(task=obj, if_match=rendered, **changes)
        else:
            fields = {name: getattr(obj, name) for name in form.fields if name != "rendered_version"}
            # The admin goes on with the instance it passed in (its log entry, the redirect to it).
            vars(obj).update(vars(services.task_create(**fields)))

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
        self._apply(request, lambda: services.task_set_completed(tasks=tasks, completed=True), "marked complete")

    @admin.action(description="Mark selected tasks incomplete", permissions=["change"])
    def mark_incomplete(self, request: HttpRequest, queryset: TaskQuerySet) -> None:
        tasks = queryset.filter(completed=True)
        self._apply(request, lambda: services.task_set_completed(tasks=tasks, completed=False), "marked incomplete")

    @admin.action(description="Soft-delete selected tasks", permissions=["change"])
    def soft_delete(self, request: HttpRequest, queryset: TaskQuerySet) -> None:
        # Only live ones (the service sees to it): deleting again would overwrite when the task was deleted.
        self._apply(request, lambda: services.tasks_soft_delete(tasks=queryset), "soft-deleted")

    @admin.action(description="Restore selected tasks", permissions=["change"])
    def restore(self, request: HttpRequest, queryset: TaskQuerySet) -> None:
        self._apply(request, lambda: services.tasks_restore(tasks=queryset), "restored")

    def _apply(self, request: HttpRequest, change: Callable[[], list[Task]], done: str) -> None:
        """Change the tasks with the service the API uses, and log each one in the admin history."""
        # One transaction, as Django's own change form does: a change is never without its log entries.
        with transaction.atomic():
            changed = change()
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=changed,
                action_flag=CHANGE,
                change_message=f"{done.capitalize()}.",
            )
        self.message_user(request, f"{len(changed)} task{pluralize(len(changed))} {done}.", messages.SUCCESS)
