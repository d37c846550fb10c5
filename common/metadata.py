"""What ``OPTIONS`` answers on every DRF view: the methods in its ``Allow`` header, a short JSON body."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.metadata import SimpleMetadata
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

if TYPE_CHECKING:  # rest_framework.views imports this module, through its settings
    from rest_framework.views import APIView


class RouteMetadata(SimpleMetadata):
    """DRF's metadata without its "actions": describing PUT runs a write's lookup, with its If-Match check, on a
    copy of the request made a PUT (once a locked read outside any transaction: a 500 on PostgreSQL).
    /api/schema/ describes the fields."""

    def determine_actions(self, request: Request, view: APIView) -> dict[str, Any]:
        return {}


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, except that OPTIONS is answered in JSON on every view: the docs views' HTML
    renderer has no template for it (a 500) and the schema view's would answer YAML."""

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        if request.method == "OPTIONS":
            return JSONRenderer(), JSONRenderer.media_type
        return super().select_renderer(request, renderers, format_suffix)
