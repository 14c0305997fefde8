"""Open-Assistant v1 protocol routes, mounted under /api/v1/."""

from django.urls import include, path
from django.views.decorators.http import require_GET
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from frontend_api.index import IndexView
from frontend_api.v1 import tasks
from frontend_api.ws.document import asyncapi_view

PUBLIC = {"authentication_classes": [], "permission_classes": []}

urlpatterns = [
    path("", IndexView.as_view(), name="api-index"),
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
    path("", include("frontend_api.v1.ws_tickets")),
    # The schema and its Swagger page are public, as OA's /api/v1/openapi.json is: the page's
    # browser fetch of the schema cannot send an API key.
    path("openapi.json", SpectacularJSONAPIView.as_view(**PUBLIC), name="openapi-schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="openapi-schema", **PUBLIC),
        name="api-docs",
    ),
    path(
        "redoc/",
        SpectacularRedocView.as_view(
            url_name="openapi-schema", template_name="frontend_api/redoc.html", **PUBLIC
        ),
        name="api-redoc",
    ),
    path("asyncapi.json", require_GET(asyncapi_view), name="asyncapi"),
]
