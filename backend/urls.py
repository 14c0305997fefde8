from django.contrib import admin
from django.urls import include, path

from frontend_api.health import HealthView
from frontend_api.index import IndexView

urlpatterns = [
    path("", IndexView.as_view(), name="index"),
    path("health", HealthView.as_view(), name="health"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("frontend_api.v1.urls")),
]

handler404 = "frontend_api.v1.errors.not_found"
