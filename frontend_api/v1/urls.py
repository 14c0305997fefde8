"""Open-Assistant v1 protocol routes, mounted under /api/v1/."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from frontend_api.v1 import tasks

urlpatterns = [
    path("tasks/", tasks.TaskRequestView.as_view(), name="tasks-request"),
    path("tasks/availability", tasks.TaskAvailabilityView.as_view(), name="tasks-availability"),
    path("tasks/<uuid:task_id>/ack", tasks.TaskAckView.as_view(), name="tasks-ack"),
    path("tasks/<uuid:task_id>/nack", tasks.TaskNackView.as_view(), name="tasks-nack"),
    path("tasks/interaction", tasks.TaskInteractionView.as_view(), name="tasks-interaction"),
    path("tasks/close", tasks.TaskCloseView.as_view(), name="tasks-close"),
    path("", include("frontend_api.v1.messages")),
    path("", include("frontend_api.v1.users")),
    path("", include("frontend_api.v1.stats")),
    path("", include("frontend_api.v1.admin")),
    path("", include("frontend_api.v1.text_labels")),
    path("", include("frontend_api.v1.misc")),
    path("openapi.json", SpectacularAPIView.as_view(), name="openapi-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="api-docs"),
]
