"""The v1 JSON renderer (an answer with nothing to say is JSON ``null``, not an empty body)
and its negotiation (JSON whatever the Accept header says).

OA (FastAPI) answers ``null`` with ``application/json`` when a handler returns nothing,
and the website calls ``resp.json()`` on every answer but a 204; DRF's renderer writes an
empty body with no Content-Type, which made the website report a successful undelete as
failed. A 204 keeps its empty body.
"""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer


class ProtocolJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if data is None and response is not None and response.status_code != 204:
            return b"null"
        return super().render(data, accepted_media_type, renderer_context)


class ProtocolNegotiation(DefaultContentNegotiation):
    """A view with one renderer answers with it, whatever the Accept header or a ``format``
    asks: OA (FastAPI) answers JSON to any Accept, where DRF's negotiation refused a request
    naming no JSON type with 406. Reading the header also cost 2-4 % of a web process's
    samples at 16 clients (py-spy). Views offering several renderers negotiate as before."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if len(renderers) == 1:
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
