from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class IsOwner(BasePermission):
    """Only the user named in the URL may use its routes."""

    message = "You may only access your own tasks."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.user.is_authenticated and request.user.id == view.kwargs.get("user_id")
