"""OA's ``TextLabels`` interaction as clients send it, to ``/text_labels/`` and to
``/tasks/interaction``: one description for both doors.

OA declares ``labels`` as ``{label: value}``; its website sends a list of ``{name, value}``
(and an empty list for "Report message"). Both forms arrive here as the same dict.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backend.trees.services import interactions
from backend.trees.services.moderation import report_message
from frontend_api.v1.auth import ProtocolUserSerializer
from frontend_api.v1.input_serializer import InputSerializer
from frontend_api.v1.strict_fields import (
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    StrictUUIDField,
)

_LABEL_ITEM = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "value": {"type": "number"}},
    "required": ["name", "value"],
}


@extend_schema_field(
    {
        "oneOf": [
            {"type": "object", "additionalProperties": {"type": "number"}},
            {"type": "array", "items": _LABEL_ITEM},
        ],
        "description": "label → value in [0, 1]: a map, or a list of {name, value}",
    }
)
class LabelsField(serializers.Field):
    """``{"spam": 1.0}`` or ``[{"name": "spam", "value": 1.0}]`` → ``{"spam": 1.0}``.

    Values are only parsed as numbers here; which labels are allowed and their range is the
    service's rule (``interactions.validate_labels``)."""

    default_error_messages = {
        "form": "expected a map of label to value, or a list of {{name, value}}",
        "item": "item {index}: expected {{'name': label, 'value': number}}",
        "twice": "label {name!r} is given twice",
    }

    def to_internal_value(self, data) -> dict[str, float]:
        if isinstance(data, dict):
            return _LABEL_MAP.run_validation(data)
        if not isinstance(data, list):
            self.fail("form")
        labels: dict[str, float] = {}
        for index, item in enumerate(data):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                self.fail("item", index=index)
            if "value" not in item:
                self.fail("item", index=index)
            if item["name"] in labels:
                self.fail("twice", name=item["name"])
            labels[item["name"]] = _LABEL_VALUE.run_validation(item["value"])
        return labels

    def to_representation(self, value):
        return value


def _label_value() -> StrictFloatField:
    return StrictFloatField()


# Built once (a field's construction cost as much as the rest of a review body's validation):
# validating reads them only.
_LABEL_VALUE = _label_value()
_LABEL_MAP = serializers.DictField(child=_label_value())


class TextLabelsInput(InputSerializer):
    """OA ``TextLabels``: with ``task_id`` the review that task asked for, without it a
    report (free labels)."""

    type = StrictCharField(required=False, default="text_labels")
    user = ProtocolUserSerializer()
    text = StrictCharField(allow_blank=True, default="")
    labels = LabelsField()
    message_id = StrictUUIDField()
    task_id = StrictUUIDField(required=False, allow_null=True)
    is_report = StrictBooleanField(required=False, allow_null=True)


def store_labels(user, data: dict):
    """OA's ``store_text_labels`` for both doors: a task id makes the labels that task's
    review, whatever ``is_report`` says; without one they are the user's free labels (one
    row per message; a report red-flags). Returns the task id, or None for free labels."""
    if data.get("task_id"):
        interactions.submit_labels(
            task_id=data["task_id"],
            user=user,
            message_id=data["message_id"],
            labels=data["labels"],
            text=data.get("text") or "",
        )
        return data["task_id"]
    report_message(
        user=user,
        message_id=data["message_id"],
        labels=data["labels"],
        text=data["text"],
        is_report=bool(data.get("is_report")),
    )
    return None
