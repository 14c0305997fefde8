"""ASGI entry point: one process serves HTTP (Django) and websockets (Channels)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
# Django must be set up before the routing imports models.
django_http = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from backend.concurrency import ConcurrencyLimit  # noqa: E402
from frontend_api.ws.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": ConcurrencyLimit(django_http, settings.GROVE_WEB_MAX_CONCURRENT_REQUESTS),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
