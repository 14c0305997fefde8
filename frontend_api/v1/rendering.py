"""The v1 JSON renderer: an answer with nothing to say is JSON ``null``, not an empty body.

OA (FastAPI) answers ``null`` with ``application/json`` when a handler returns nothing,
and the website calls ``resp.json()`` on every answer but a 204; DRF's renderer writes an
empty body with no Content-Type, which made the website report a successful undelete as
failed. A 204 keeps its empty body.
"""

from __future__ import annotations

from rest_framework.renderers import JSONRenderer


class ProtocolJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if data is None and response is not None and response.status_code != 204:
            return b"null"
        return super().render(data, accepted_media_type, renderer_context)
