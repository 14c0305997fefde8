"""v1 endpoints: misc (being built; see the REST API issue)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
