from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.utils.decorators import method_decorator
from django.views.decorators.cache import cache_control
from django.views.decorators.vary import vary_on_headers
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from .conditional import PreconditionFailed, etag_for, if_match_passes, if_none_match_hits
from .filters import TaskFilter
from .models import Task, TaskQuerySet
from .permissions import IsOwner
from .schema import document_task_viewset
from .serializers import REPRESENTED_FIELDS, TaskCompletionSerializer, TaskSerializer, represent

# The actions whose 2xx response is one task, and so carries its ETag.
ONE_TASK_ACTIONS = {"create", "retrieve", "update", "partial_update", "complete"}


# Every answer of the task routes, errors included, is one user's: "private" keeps it out of shared caches,
# and "Vary: Authorization" keys the browser's own copy by token. "no-cache" rather than "no-store": the
# browser may keep its copy but must revalidate it before each use, which the ETag makes a body-less 304;
# "no-store" would forbid keeping it at all, making every read a full body, to guard only against someone
# reading the user's own browser cache.
API_CACHING = [cache_control(private=True, no_cache=True), vary_on_headers("Authorization")]


@method_decorator(API_CACHING, name="dispatch")
@document_task_viewset
class TaskViewSet(viewsets.ModelViewSet):
    """The live tasks of the user named in the URL, who must be the token's user."""

    serializer_class = TaskSerializer
    permission_classes = [IsAuthenticated, IsOwner]
    filterset_class = TaskFilter
    search_fields = ["title", "description"]
    # One spelling per task: Python's int() would also take "+17", "017", "1_7", " 17" and full-width
    # digits for task 17, so the route itself only matches ASCII digits without a sign or a leading zero.
    lookup_value_regex = "[1-9][0-9]*"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # A write completes all of its statements or none: an error response rolls it back, an
        # unhandled exception unwinds it. Reads need no transaction (settings.py, DATABASES).
        if request.method in SAFE_METHODS:
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)
            return response

    def get_queryset(self) -> TaskQuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Task.objects.none()
        # The ownership boundary: another user's task, or a deleted one, is simply not found.
        tasks = Task.objects.live().owned_by(self.request.user.id)
        if self.request.method not in SAFE_METHODS:
            # Held until the request's transaction ends, so an If-Match check and the write it guards
            # see the same row: a concurrent writer waits instead of slipping in between.
            tasks = tasks.select_for_update()
        return tasks

    def filter_queryset(self, queryset: TaskQuerySet) -> TaskQuerySet:
        # Filters, search and ordering shape lists; one task is found by its id alone. A list without
        # parameters (the front end's most frequent call) skips the filter machinery: ~20% of its CPU.
        if self.action != "list" or not self.request.query_params:
            return queryset
        return super().filter_queryset(queryset)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # A page is read as rows straight into its representation: building a model per row was
        # the largest part of a list's CPU after the SQL itself (BENCHMARKS.md).
        rows = self.filter_queryset(self.get_queryset()).values_list(*REPRESENTED_FIELDS)
        return self.get_paginated_response([represent(row) for row in self.paginate_queryset(rows)])

    def get_object(self) -> Task:
        task = super().get_object()
        # The ETag costs a full representation: only worth computing when a client asks for the check.
        if_match = self.request.headers.get("If-Match")
        if if_match is not None and not if_match_passes(if_match, etag_for(self._represent(task))):
            raise PreconditionFailed()
        return task

    def _represent(self, task: Task) -> dict[str, Any]:
        return TaskSerializer(task, context=self.get_serializer_context()).data

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().retrieve(request, *args, **kwargs)
        etag = etag_for(response.data)
        if if_none_match_hits(request.headers.get("If-None-Match"), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        response["ETag"] = etag
        return response

    def perform_create(self, serializer: TaskSerializer) -> None:
        serializer.save(user_id=self.request.user.id)

    def perform_destroy(self, instance: Task) -> None:
        instance.soft_delete()

    def get_success_headers(self, data: dict) -> dict[str, str]:
        url = reverse("task-detail", kwargs={"user_id": data["user_id"], "pk": data["id"]}, request=self.request)
        return {"Location": url}

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        if self.action in ONE_TASK_ACTIONS and status.is_success(response.status_code) and "ETag" not in response:
            response["ETag"] = etag_for(response.data)
        return super().finalize_response(request, response, *args, **kwargs)

    @action(detail=True, methods=["patch"], serializer_class=TaskCompletionSerializer)
    def complete(self, request: Request, user_id: str, pk: str) -> Response:
        body = TaskCompletionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if "If-Match" in request.headers:
            self.get_object()  # locks the task and checks the precondition
        changed = self.get_queryset().filter(pk=pk).set_completed_returning(body.validated_data.get("completed"))
        if not changed:
            raise Http404
        return Response(self._represent(changed[0]))
