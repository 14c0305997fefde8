"""/api/v1/text_labels/: label a message (review or report) and the label catalogues."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.trees.core.config import LABEL_WIDGETS
from backend.trees.growth_config import active_config
from backend.trees.moderation_selectors import labels_for_message
from frontend_api.v1.admin_config import valid_data
from frontend_api.v1.label_input import TextLabelsInput, store_labels
from frontend_api.v1.protocol import label_description
from frontend_api.v1.strict_fields import StrictUUIDField
from frontend_api.v1.task_schemas import LabelDescriptionOutput
from frontend_api.v1.tasks import ERROR_RESPONSE, labelling_user

TAGS = ["text_labels"]
# OA's report_labels, in its order.
REPORT_LABELS = (
    "spam",
    "not_appropriate",
    "pii",
    "hate_speech",
    "sexual_content",
    "moral_judgement",
    "political_content",
    "toxicity",
    "violence",
    "quality",
)


class ValidLabelsOutput(serializers.Serializer):
    valid_labels = LabelDescriptionOutput(many=True)


class ValidLabelsQuery(serializers.Serializer):
    message_id = StrictUUIDField(required=False, allow_null=True)


def _catalogue(names) -> dict:
    return {"valid_labels": [label_description(name) for name in names]}


class LabelTextView(APIView):
    """POST /text_labels/: with ``task_id`` a review through that label task; without, a
    report (free labels; ``is_report`` also red-flags the message for moderators)."""

    acting_user_field = "user"  # the throttle counts this user (throttling.py)

    @extend_schema(
        tags=TAGS,
        request=TextLabelsInput,
        responses={204: None, 400: ERROR_RESPONSE, 404: ERROR_RESPONSE},
    )
    def post(self, request):
        data = valid_data(TextLabelsInput, request.data)
        with labelling_user(request.auth, data["user"], data) as labeller:
            store_labels(labeller, data)
        return Response(status=204)


class ValidLabelsView(APIView):
    """GET /text_labels/valid_labels?message_id=: the labels for that message's kind in the
    active configuration; without a message, every label but ``fails_task``."""

    @extend_schema(
        tags=TAGS,
        parameters=[ValidLabelsQuery],
        responses={200: ValidLabelsOutput, 404: ERROR_RESPONSE},
    )
    def get(self, request):
        query = valid_data(ValidLabelsQuery, request.query_params.dict())
        if query.get("message_id"):
            names = labels_for_message(query["message_id"], active_config())
        else:
            names = [name for name in LABEL_WIDGETS if name != "fails_task"]
        return Response(_catalogue(names))


class ReportLabelsView(APIView):
    """GET /text_labels/report_labels: the labels a report form offers (public, as in OA)."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(tags=TAGS, responses={200: ValidLabelsOutput})
    def get(self, request):
        return Response(_catalogue(REPORT_LABELS))


urlpatterns = [
    path("text_labels/", LabelTextView.as_view(), name="text-labels"),
    path("text_labels/valid_labels", ValidLabelsView.as_view(), name="text-labels-valid"),
    path("text_labels/report_labels", ReportLabelsView.as_view(), name="text-labels-report"),
]
