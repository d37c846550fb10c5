from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from common import errors, probes

urlpatterns = [
    path("health", probes.health, name="health"),
    path("ready", probes.ready, name="ready"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # What the docs pages render: the same schema, with words where it has constraints only a machine reads.
    path(
        "api/schema/docs/",
        SpectacularAPIView.as_view(
            custom_settings={
                "POSTPROCESSING_HOOKS": [
                    *settings.SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"],
                    "todo_project.schema.for_people",
                ]
            }
        ),
        name="schema-docs",
    ),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema-docs"), name="swagger-ui"),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema-docs", template_name="docs/redoc.html"),
        name="redoc",
    ),
    path("api/", include("tasks.urls")),
    # Last: any other URL under /api/ is the API's JSON 404, with DEBUG on too.
    re_path(r"^api/", errors.api_not_found),
]

handler400 = "common.errors.bad_request"
handler403 = "common.errors.permission_denied"
handler404 = "common.errors.page_not_found"
handler500 = "common.errors.server_error"
