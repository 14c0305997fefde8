"""``GET /api/v1/asyncapi.json``: the websocket protocol as an AsyncAPI 3 document.

The document is written by hand in ``asyncapi.yaml`` beside the consumers it describes;
``tests/ws/test_asyncapi.py`` checks every frame the consumers send in the websocket tests
against its message schemas.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from django.http import HttpRequest, JsonResponse

SOURCE = Path(__file__).with_name("asyncapi.yaml")


@cache
def asyncapi_document() -> dict:
    return yaml.safe_load(SOURCE.read_text(encoding="utf-8"))


def asyncapi_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(asyncapi_document())
