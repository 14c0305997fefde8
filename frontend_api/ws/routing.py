"""Websocket routes (the task-event consumers arrive with the websocket issue)."""

from django.urls import path

from frontend_api.ws.health import HealthConsumer

websocket_urlpatterns: list = [
    path("ws/health/", HealthConsumer.as_asgi()),
]
