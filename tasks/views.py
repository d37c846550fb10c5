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

from . import services
from .batch import BatchParser, run_batch
from .conditional import ConditionalRequestMixin
from .filters import TaskFilter
from .models import Task, TaskQuerySet
from .permissions import IsOwner
from .schema import document_task_viewset
from .serializers import TaskCompletionSerializer, TaskSerializer

# Every answer of the task routes, errors included, is one user's: "private" keeps it out of shared caches,
# and "Vary: Authorization" keys the browser's own copy by token. "no-cache" rather than "no-store": the
# browser may keep its copy but must revalidate it before each use, which the ETag makes a body-less 304;
# "no-store" would forbid keeping it at all, making every read a full body, to guard only against someone
# reading the user's own browser cache.
API_CACHING = [cache_control(private=True, no_cache=True), vary_on_headers("Authorization")]


@method_decorator(API_CACHING, name="dispatch")
@document_task_viewset
class TaskViewSet(ConditionalRequestMixin, viewsets.ModelViewSet):
    """The live tasks of the user named in the URL, who must be the token's user."""

    serializer_class = TaskSerializer
    permission_classes = [IsAuthenticated, IsOwner]
    filterset_class = TaskFilter
    search_fields = ["title", "description"]
    # One spelling per task: Python's int() would also take "+17", "017", "1_7", " 17" and full-width
    # digits for task 17, so the route itself only matches ASCII digits without a sign or a leading zero.
    lookup_value_regex = "[1-9][0-9]*"

    def get_queryset(self) -> TaskQuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Task.objects.none()
        # The ownership boundary: another user's task, or a deleted one, is simply not found.
        return Task.objects.live().owned_by(self.request.user.id)

    def filter_queryset(self, queryset: TaskQuerySet) -> TaskQuerySet:
        # Filters, search and ordering shape lists; one task is found by its id alone. A list without
        # parameters (the front end's most frequent call) skips the filter machinery: ~20% of its CPU.
        if self.action != "list" or not self.request.query_params:
            return queryset
        return super().filter_queryset(queryset)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # A page is read as rows straight into its representation: building a model per row was
        # the largest part of a list's CPU after the SQL itself (BENCHMARKS.md).
        rows = self.filter_queryset(self.get_queryset()).values_list(*TaskSerializer.Meta.fields)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response([TaskSerializer.row_to_representation(row) for row in page])

    def perform_create(self, serializer: TaskSerializer) -> None:
        serializer.instance = services.task_create(user_id=self.request.user.id, **serializer.validated_data)

    def perform_update(self, serializer: TaskSerializer) -> None:
        serializer.instance = services.task_update(
            task=serializer.instance, if_match=self.if_match, **serializer.validated_data
        )

    def perform_destroy(self, instance: Task) -> None:
        services.task_soft_delete(task=instance, if_match=self.if_match)

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
            tasks=self.get_queryset().filter(pk=pk),
            completed=body.validated_data.get("completed"),
            if_match=self.if_match,
        )
        if not changed:
            raise Http404
        return Response(TaskSerializer(changed[0], context=self.get_serializer_context()).data)

    @action(detail=False, methods=["post"], parser_classes=[BatchParser])
    def batch(self, request: Request, user_id: str) -> Response:
        return run_batch(self, request)
