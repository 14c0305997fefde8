"""v1 endpoints: users (being built; see the REST API issue)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
