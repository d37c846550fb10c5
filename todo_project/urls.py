from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("tasks.urls")),
]

handler400 = "todo_project.errors.bad_request"
handler403 = "todo_project.errors.permission_denied"
handler404 = "todo_project.errors.page_not_found"
handler500 = "todo_project.errors.server_error"
