"""Probes for load balancers and orchestrators: no authentication, no throttling."""
from __future__ import annotations

from django.http import HttpRequest, JsonResponse


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def ready(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
