"""/api/v1/ws_tickets/: a single-use ticket that opens one websocket, for browsers.

A browser cannot set ``X-API-Key`` on a websocket, and a key in the URL lands in access logs.
The frontend's server (which holds the key) asks for a ticket and passes it to the page, which
connects to ``ws/tasks/?ticket=<ticket>`` within ``expires_in`` seconds. Bots keep sending
``X-API-Key`` on the handshake.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.socket_tickets import issue_ticket
from frontend_api.v1.strict_fields import StrictCharField
from frontend_api.v1.tasks import ERROR_RESPONSE


class WebsocketTicketOut(serializers.Serializer):
    ticket = StrictCharField(
        help_text="Opens one socket: ws/tasks/?ticket=<ticket>. Single use; keep it secret."
    )
    expires_in = serializers.IntegerField(
        help_text="Seconds the ticket stays valid (GROVE_WS_TICKET_SECONDS, 60 by default)."
    )


class WebsocketTicketView(APIView):
    """POST /ws_tickets/: a ticket for one browser websocket, instead of a key in the URL."""

    OutputSerializer = WebsocketTicketOut

    @extend_schema(
        tags=["websockets"], request=None, responses={201: OutputSerializer, 403: ERROR_RESPONSE}
    )
    def post(self, request):
        issued = issue_ticket(api_client=request.auth)
        body = self.OutputSerializer(
            {"ticket": issued.ticket, "expires_in": issued.expires_in}
        ).data
        return Response(body, status=201, headers={"Cache-Control": "no-store"})


urlpatterns = [path("ws_tickets/", WebsocketTicketView.as_view(), name="ws-tickets")]
