from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from .filters import TaskFilter
from .models import Priority, Task, TaskQuerySet
from .permissions import IsOwner
from .serializers import TaskCompletionSerializer, TaskSerializer

USER_ID = OpenApiParameter(
    "user_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    pattern=r"^[^/]+$",
    description="The token's user id (its `sub` claim unless configured otherwise); any other is a 403.",
)
TASK_ID = OpenApiParameter(
    "id",
    OpenApiTypes.INT,
    OpenApiParameter.PATH,
    description="The task's id; anything but one of this user's live tasks is a 404.",
)
# django-filter's introspection types these two after the model fields (boolean, integer), but the
# API takes exactly these words and nothing else (not "True", not "1", not a rank).
LIST_FILTERS = [
    OpenApiParameter(
        "completed",
        OpenApiTypes.STR,
        enum=["true", "false"],
        description="Only completed (`true`) or only open (`false`) tasks.",
    ),
    OpenApiParameter("priority", OpenApiTypes.STR, enum=Priority.labels, description="Only tasks of this priority."),
    OpenApiParameter(
        "limit",
        OpenApiTypes.INT,
        description="Page size: 50 unless given, at most 200 (larger values are capped).",
    ),
    OpenApiParameter("offset", OpenApiTypes.INT, description="How many tasks to skip: 0 unless given."),
]
ERROR_HEADERS = [
    OpenApiParameter(
        "WWW-Authenticate",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[401],
        description='`Bearer realm="api"`',
    ),
    OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[429],
        description="Seconds to wait before trying again.",
    ),
]


@extend_schema(tags=["tasks"], parameters=[USER_ID, *ERROR_HEADERS])
@extend_schema_view(
    list=extend_schema(
        operation_id="tasks_list",
        summary="List tasks",
        description=(
            "A page of the user's tasks, newest first unless `ordering` says otherwise. "
            "Filters combine; a value that makes no sense is a 400 naming the parameter."
        ),
        parameters=LIST_FILTERS,
    ),
    create=extend_schema(
        operation_id="tasks_create",
        summary="Create a task",
        description="The task belongs to the token's user; `id`, `user_id` and timestamps sent are ignored.",
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                OpenApiParameter.HEADER,
                response=[201],
                description="The new task's URL.",
            )
        ],
    ),
    retrieve=extend_schema(operation_id="tasks_retrieve", summary="Get a task", parameters=[TASK_ID]),
    update=extend_schema(
        operation_id="tasks_update",
        summary="Replace a task",
        description="`title` is required; the fields left out return to their defaults.",
        parameters=[TASK_ID],
    ),
    partial_update=extend_schema(
        operation_id="tasks_partial_update",
        summary="Change some of a task's fields",
        description="Only the fields sent change.",
        parameters=[TASK_ID],
    ),
    destroy=extend_schema(
        operation_id="tasks_destroy",
        summary="Delete a task",
        description="The task is soft-deleted: it disappears from the API.",
        parameters=[TASK_ID],
    ),
    complete=extend_schema(
        methods=["PATCH"],
        operation_id="tasks_complete",
        summary="Complete or reopen a task",
        description='No body (or `{}`) flips `completed`; `{"completed": true}` or `false` sets it.',
        parameters=[TASK_ID],
        request=TaskCompletionSerializer,
        responses={200: TaskSerializer},
    ),
)
# Raised by the paginator and the search filter, which the schema generator cannot see into.
@extend_validation_errors(["invalid"], field_name="limit", actions=["list"])
@extend_validation_errors(["invalid"], field_name="offset", actions=["list"])
@extend_validation_errors(["null_characters_not_allowed"], field_name="search", actions=["list"])
class TaskViewSet(viewsets.ModelViewSet):
    """The live tasks of the user named in the URL, who must be the token's user."""

    serializer_class = TaskSerializer
    permission_classes = [IsAuthenticated, IsOwner]
    filterset_class = TaskFilter
    search_fields = ["title", "description"]

    def get_queryset(self) -> TaskQuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Task.objects.none()
        # The ownership boundary: another user's task, or a deleted one, is simply not found.
        return Task.objects.live().owned_by(self.request.user.id)

    def filter_queryset(self, queryset: TaskQuerySet) -> TaskQuerySet:
        # Filters, search and ordering shape lists; one task is found by its id alone.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def perform_create(self, serializer: TaskSerializer) -> None:
        serializer.save(user_id=self.request.user.id)

    def perform_destroy(self, instance: Task) -> None:
        instance.soft_delete()

    def get_success_headers(self, data: dict) -> dict[str, str]:
        url = reverse("task-detail", kwargs={"user_id": data["user_id"], "pk": data["id"]}, request=self.request)
        return {"Location": url}

    @action(detail=True, methods=["patch"], serializer_class=TaskCompletionSerializer)
    def complete(self, request: Request, user_id: str, pk: str) -> Response:
        task = self.get_object()
        body = TaskCompletionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task.set_completed(body.validated_data.get("completed"))
        return Response(TaskSerializer(task, context=self.get_serializer_context()).data, status=status.HTTP_200_OK)
