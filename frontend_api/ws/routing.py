"""Websocket routes: health (no key), a frontend's task feed, trusted clients' admin feed,
and the console's feed (a staff user's Django session)."""

from channels.auth import AuthMiddlewareStack
from django.urls import path

from frontend_api.ws.admin import AdminEventsConsumer
from frontend_api.ws.console import ConsoleConsumer
from frontend_api.ws.health import HealthConsumer
from frontend_api.ws.tasks import TaskEventsConsumer

websocket_urlpatterns: list = [
    path("ws/health/", HealthConsumer.as_asgi()),
    path("ws/tasks/", TaskEventsConsumer.as_asgi()),
    path("ws/admin/", AdminEventsConsumer.as_asgi()),
    path("ws/console/", AuthMiddlewareStack(ConsoleConsumer.as_asgi())),
]
