from __future__ import annotations

from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from .filters import TaskFilter
from .models import Task, TaskQuerySet
from .permissions import IsOwner
from .schema import document_task_viewset
from .serializers import TaskCompletionSerializer, TaskSerializer


@document_task_viewset
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
