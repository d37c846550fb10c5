from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.decorators import method_decorator
from django.views.decorators.cache import cache_control
from django.views.decorators.vary import vary_on_headers
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from common.idempotency import IdempotencyKeyMixin

from . import changes, services
from .batch import BatchParser, run_batch
from .conditional import ConditionalRequestMixin
from .filters import TaskFilter
from .models import Task, TaskQuerySet
from .permissions import IsOwner
from .schema import document_task_viewset
from .serializers import FIELDS, TaskChangesSerializer, TaskCompletionSerializer, TaskMoveSerializer, TaskSerializer

# Every answer of the task routes, errors included, is one user's: "private" keeps it out of shared caches,
# and "Vary: Authorization" keys the browser's own copy by token. "no-cache" rather than "no-store": the
# browser may keep its copy but must revalidate it before each use, which the ETag makes a body-less 304;
# "no-store" would forbid keeping it at all, making every read a full body, to guard only against someone
# reading the user's own browser cache.
API_CACHING = [cache_control(private=True, no_cache=True), vary_on_headers("Authorization")]


@method_decorator(API_CACHING, name="dispatch")
@document_task_viewset
class TaskViewSet(IdempotencyKeyMixin, ConditionalRequestMixin, viewsets.ModelViewSet):
    """The tasks of the user named in the URL, who must be the token's user: the live ones, or the trash."""

    serializer_class = TaskSerializer
    permission_classes = [IsAuthenticated, IsOwner]
    filterset_class = TaskFilter
    search_fields = ["title", "description"]
    # One spelling per task: Python's int() would also take "+17", "017", "1_7", " 17" and full-width
    # digits for task 17, so the route itself only matches ASCII digits without a sign or a leading zero; and
    # at most 19 of them, as many as the largest id has (a longer one names no task, and past 4,300 digits
    # int() refuses it).
    lookup_value_regex = "[1-9][0-9]{0,18}"

    def get_queryset(self) -> TaskQuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Task.objects.none()
        # The ownership boundary: another user's task is simply not found, and so is a deleted one, except by
        # the trash's list (?deleted=true, validated by TaskFilter) and by restore, which find only deleted ones.
        trash = self.action == "restore" or (
            self.action == "list" and self.request.query_params.get("deleted") == "true"
        )
        return Task.objects.of(self.request.user.id, trash=trash)

    def get_object(self) -> Task:
        # DRF's get_object for one task, found by its id alone among the live ones (no filter shapes it, no object
        # permission applies), with the SQL of get_queryset()'s ownership filter compiled once (Task.objects.one_of).
        task = Task.objects.one_of(self.request.user.id, self.kwargs["pk"])
        if task is None:
            raise Http404
        return self.checked(task)

    def filter_queryset(self, queryset: TaskQuerySet) -> TaskQuerySet:
        # Filters, search and ordering shape lists; one task is found by its id alone. A list without
        # parameters (the front end's most frequent call) skips the filter machinery: ~20% of its CPU.
        if self.action != "list" or not self.request.query_params:
            return queryset
        return super().filter_queryset(queryset)

    def list_page(self, tasks: TaskQuerySet) -> Response:
        # A page is read as rows straight into its representation: building a model per row was
        # the largest part of a list's CPU after the SQL itself (BENCHMARKS.md).
        rows = tasks.values_list(*FIELDS)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response([TaskSerializer.row_to_representation(row) for row in page])

    def perform_create(self, serializer: TaskSerializer) -> None:
        serializer.instance = services.task_create(user_id=self.request.user.id, **serializer.validated_data)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # DRF's UpdateModelMixin.update, without reading the task first: the service's one statement finds
        # it, checks If-Match and writes it (bench/NOTES.md: a read is a third of a full update's round trips).
        # Under If-Match it is still read first, so a stale write is a 412 before its body is validated.
        if self.if_match is not None:
            self.get_object()
        serializer = self.get_serializer(data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return Response(serializer.data)

    def perform_update(self, serializer: TaskSerializer) -> None:
        serializer.instance = services.task_update(
            tasks=self.named_task(), if_match=self.if_match, **serializer.validated_data
        )

    def perform_destroy(self, instance: Task) -> None:
        services.task_soft_delete(tasks=self.named_task(), if_match=self.if_match)

    def named_task(self) -> TaskQuerySet:
        """The task the URL names, as a queryset (found or not) for a service to write in one statement."""
        return self.get_queryset().filter(pk=self.kwargs["pk"])

    def named_task_answer(self, written: list[Task]) -> Response:
        """An action's answer: the named task as its service wrote it, or a 404 when there was none to write."""
        if not written:
            raise Http404
        return Response(TaskSerializer(written[0], context=self.get_serializer_context()).data)

    def get_success_headers(self, data: dict) -> dict[str, str]:
        url = reverse("task-detail", kwargs={"user_id": data["user_id"], "pk": data["id"]}, request=self.request)
        # The routes' trailing slash is optional, which reverse() writes as none; every URL the API documents
        # and links to has it.
        return {"Location": f"{url}/"}

    @action(detail=True, methods=["patch"], serializer_class=TaskCompletionSerializer)
    def complete(self, request: Request, user_id: str, pk: str) -> Response:
        body = TaskCompletionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changed = services.task_set_completed(
            tasks=self.named_task(),
            completed=body.validated_data.get("completed"),
            if_match=self.if_match,
        )
        return self.named_task_answer(changed)

    @action(detail=True, methods=["post"], serializer_class=TaskMoveSerializer)
    def move(self, request: Request, user_id: str, pk: str) -> Response:
        body = TaskMoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        moved = services.task_move(tasks=self.named_task(), if_match=self.if_match, **body.validated_data)
        return self.named_task_answer([moved])

    @action(detail=True, methods=["post"])
    def restore(self, request: Request, user_id: str, pk: str) -> Response:
        # A live task is not in the trash: a 404, as for any task get_queryset does not hold.
        return self.named_task_answer(services.tasks_restore(tasks=self.named_task(), if_match=self.if_match))

    @action(detail=False, methods=["get"], serializer_class=TaskChangesSerializer)
    def changes(self, request: Request, user_id: str) -> Response:
        since = changes.parse_since(request.user.id, request.query_params)
        limit = changes.parse_limit(request.query_params)
        return Response(changes.changes_since(user_id=request.user.id, since=since, limit=limit))

    @action(detail=False, methods=["post"], parser_classes=[BatchParser])
    def batch(self, request: Request, user_id: str) -> Response:
        return run_batch(self, request)
