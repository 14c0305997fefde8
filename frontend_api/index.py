"""``/`` and ``/api/v1/``: where a newcomer lands, with links to the docs, schemas and health.

JSON for programs; a small HTML page of the same links when a browser asks for HTML.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.views import View

TITLE = "Grove: Open-Assistant's v1 task protocol"


def links(request: HttpRequest) -> dict[str, str]:
    def url(name: str) -> str:
        return request.build_absolute_uri(reverse(name))

    return {
        "api": url("api-index"),
        "openapi": url("openapi-schema"),
        "swagger": url("api-docs"),
        "redoc": url("api-redoc"),
        "asyncapi": url("asyncapi"),
        "health": url("health"),
    }


def websocket_paths() -> dict[str, str]:
    return {
        "tasks": "/ws/tasks/",
        "admin": "/ws/admin/",
        "health": "/ws/health/",
    }


class IndexView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        body = {
            "name": "Grove",
            "description": TITLE,
            "authentication": "Send your API key in the X-API-Key header.",
            "links": links(request),
            "websockets": websocket_paths(),
        }
        if _prefers_html(request):
            return HttpResponse(_html(body))
        return JsonResponse(body)


def _prefers_html(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and accept.find("text/html") < _position(accept, "json")


def _position(accept: str, word: str) -> int:
    found = accept.find(word)
    return len(accept) if found < 0 else found


def _html(body: dict) -> str:
    items = format_html_join(
        "\n", '<li>{}: <a href="{}">{}</a></li>', ((k, v, v) for k, v in body["links"].items())
    )
    sockets = format_html_join("\n", "<li>{}: <code>{}</code></li>", body["websockets"].items())
    return format_html(
        "<!doctype html><html><head><meta charset='utf-8'><title>{}</title></head><body>"
        "<h1>{}</h1><p>{}</p><ul>{}</ul><p>Websockets:</p><ul>{}</ul></body></html>",
        TITLE,
        TITLE,
        body["authentication"],
        items,
        sockets,
    )
