"""The admin for support staff: find any user's tasks, fix them, complete, soft-delete and restore them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import pluralize
from django.utils.functional import cached_property

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
    readonly_fields = ["created_at", "updated_at", "deleted_at"]
    actions = ["mark_complete", "mark_incomplete", "soft_delete", "restore"]

    @admin.display(description="tags")
    def tag_list(self, task: Task) -> str:
        return ", ".join(task.tags)

    def get_readonly_fields(self, request: HttpRequest, obj: Task | None = None) -> list[str]:
        # The owner is chosen when a task is created; moving a task to another user is never a fix.
        return [*self.readonly_fields, "user_id"] if obj else self.readonly_fields

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
        self._apply(
            request, queryset.filter(completed=False), lambda tasks: tasks.set_completed(True), "marked complete"
        )

    @admin.action(description="Mark selected tasks incomplete", permissions=["change"])
    def mark_incomplete(self, request: HttpRequest, queryset: TaskQuerySet) -> None:
        self._apply(
            request, queryset.filter(completed=True), lambda tasks: tasks.set_completed(False), "marked incomplete"
        )

    @admin.action(description="Soft-delete selected tasks", permissions=["change"])
    def soft_delete(self, request: HttpRequest, queryset: TaskQuerySet) -> None:
        # Only live ones: deleting again would overwrite when the task was really deleted.
        self._apply(request, queryset.live(), TaskQuerySet.soft_delete, "soft-deleted")

    @admin.action(description="Restore selected tasks", permissions=["change"])
    def restore(self, request: HttpRequest, queryset: TaskQuerySet) -> None:
        self._apply(request, queryset.filter(deleted_at__isnull=False), TaskQuerySet.restore, "restored")

    def _apply(
        self, request: HttpRequest, tasks: TaskQuerySet, change: Callable[[TaskQuerySet], int], done: str
    ) -> None:
        """Change the tasks with the queryset method the API uses, and log each one in the admin history."""
        with transaction.atomic():
            # Locked, so no other request changes a task between its log entry and the update.
            changed = list(tasks.select_for_update())
            change(tasks)
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=changed,
                action_flag=CHANGE,
                change_message=f"{done.capitalize()}.",
            )
        self.message_user(request, f"{len(changed)} task{pluralize(len(changed))} {done}.", messages.SUCCESS)
