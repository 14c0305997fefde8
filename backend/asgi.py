"""ASGI entry point: one process serves HTTP (Django) and websockets (Channels).

HTTP requests run Django's synchronous handler in a thread each (``http_bridge``); the
number of threads is the per-process request bound, ``GROVE_WEB_MAX_CONCURRENT_REQUESTS``.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
# Django must be set up before the routing imports models.
django_http = get_wsgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from backend.concurrency import ConcurrencyLimit  # noqa: E402
from backend.http_bridge import ThreadedWsgi  # noqa: E402
from frontend_api.ws.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": ConcurrencyLimit(
            # Unbounded (0): as many threads as concurrent.futures would start on 32 cores.
            ThreadedWsgi(
                django_http,
                threads=settings.GROVE_WEB_MAX_CONCURRENT_REQUESTS or 36,
                max_body_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
            ),
            settings.GROVE_WEB_MAX_CONCURRENT_REQUESTS,
        ),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
