from django.contrib import admin
from django.urls import include, path

from backend.observability.exposition import MetricsView
from frontend_api.health import HealthView, LivenessView, ReadinessView
from frontend_api.index import IndexView

urlpatterns = [
    path("", IndexView.as_view(), name="index"),
    path("health", HealthView.as_view(), name="health"),
    path("health/live", LivenessView.as_view(), name="health-live"),
    path("health/ready", ReadinessView.as_view(), name="health-ready"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("admin/", admin.site.urls),
    path("console/", include("frontend_api.console.urls")),
    path("api/v1/", include("frontend_api.v1.urls")),
]

handler404 = "frontend_api.v1.errors.not_found"
