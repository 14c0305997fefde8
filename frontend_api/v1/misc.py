"""/api/v1/auth/check, and OA endpoints Grove does not implement (Discord login, the Hugging
Face toxicity proxy): those answer 501 in OA's error shape, saying why."""

from __future__ import annotations

from http import HTTPStatus

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from frontend_api.v1.errors import OasstErrorCode, ProtocolError
from frontend_api.v1.tasks import ERROR_RESPONSE


class AuthCheckView(APIView):
    """GET /auth/check: 200 when the API key is valid, with the client's admin e-mail.

    OA decrypts the website's NextAuth session cookie here and returns the user's e-mail;
    Grove authenticates API clients only, so it answers for the calling client (a JSON string,
    or null when the client has no admin e-mail). An unknown key is a 403 like everywhere."""

    @extend_schema(
        tags=["auth"],
        responses={200: {"type": "string", "nullable": True}, 403: ERROR_RESPONSE},
    )
    def get(self, request):
        return Response(request.auth.admin_email or None)


class NotImplementedView(APIView):
    """Base for OA endpoints Grove leaves out: always 501 with SERVER_ERROR1."""

    reason = ""

    def _refuse(self):
        raise ProtocolError(
            f"not implemented in Grove: {self.reason}",
            OasstErrorCode.SERVER_ERROR1,
            HTTPStatus.NOT_IMPLEMENTED,
        )


class DiscordLoginView(NotImplementedView):
    """GET /login/discord (OA: redirect to Discord's OAuth page)."""

    reason = (
        "Discord OAuth login; Grove serves API clients (X-API-Key), and frontends log their "
        "users in themselves"
    )

    @extend_schema(tags=["auth"], responses={501: ERROR_RESPONSE})
    def get(self, request):
        self._refuse()


class DiscordCallbackView(DiscordLoginView):
    """GET /callback/discord (OA: exchange the OAuth code for a token)."""

    @extend_schema(tags=["auth"], responses={501: ERROR_RESPONSE})
    def get(self, request):
        self._refuse()


class TextToxicityView(NotImplementedView):
    """GET /hf/text_toxicity (OA: proxy to a Hugging Face toxicity model)."""

    reason = "the Hugging Face toxicity proxy; Grove calls no external model service"

    @extend_schema(tags=["hugging_face"], responses={501: ERROR_RESPONSE})
    def get(self, request):
        self._refuse()


urlpatterns = [
    path("auth/check", AuthCheckView.as_view(), name="auth-check"),
    path("login/discord", DiscordLoginView.as_view(), name="login-discord"),
    path("callback/discord", DiscordCallbackView.as_view(), name="login-discord-callback"),
    path("hf/text_toxicity", TextToxicityView.as_view(), name="hf-text-toxicity"),
]
