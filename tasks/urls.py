from rest_framework.routers import SimpleRouter

from .views import TaskViewSet

router = SimpleRouter()
# Every route answers with and without its trailing slash, with no redirect.
router.trailing_slash = "/?"
router.register(r"(?P<user_id>[^/]+)/tasks", TaskViewSet, basename="task")

urlpatterns = router.urls
