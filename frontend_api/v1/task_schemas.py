"""OpenAPI shapes of the task JSON (``protocol.render_task`` builds the bodies themselves).

OA's ``AnyTask`` is a union discriminated by ``type``; these serializers describe each member
so that generated clients know every field.
"""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from backend.trees.core.task_kinds import TaskKind
from frontend_api.v1.auth import ProtocolUserSerializer
from frontend_api.v1.message_serializers import ConversationMessageOut, ConversationOut
from frontend_api.v1.strict_fields import StrictCharField, StrictUUIDField


class LabelDescriptionOutput(serializers.Serializer):
    """OA ``LabelDescription`` (also served by ``/text_labels/valid_labels``)."""

    name = StrictCharField()
    widget = StrictCharField()
    display_text = StrictCharField()
    help_text = StrictCharField(allow_null=True)


class InitialPromptTaskOut(serializers.Serializer):
    id = StrictUUIDField()
    type = serializers.ChoiceField(choices=[TaskKind.INITIAL_PROMPT.value])
    hint = StrictCharField(allow_null=True)


class ReplyTaskOut(serializers.Serializer):
    """assistant_reply and prompter_reply (the latter also carries ``hint``)."""

    id = StrictUUIDField()
    type = serializers.ChoiceField(
        choices=[TaskKind.ASSISTANT_REPLY.value, TaskKind.PROMPTER_REPLY.value]
    )
    conversation = ConversationOut()
    hint = StrictCharField(allow_null=True, required=False)


class LabelTaskOut(serializers.Serializer):
    """label_initial_prompt (with ``prompt``) and label_*_reply (with ``reply``)."""

    id = StrictUUIDField()
    type = serializers.ChoiceField(
        choices=[
            TaskKind.LABEL_INITIAL_PROMPT.value,
            TaskKind.LABEL_ASSISTANT_REPLY.value,
            TaskKind.LABEL_PROMPTER_REPLY.value,
        ]
    )
    message_id = StrictUUIDField()
    valid_labels = serializers.ListField(child=StrictCharField())
    mandatory_labels = serializers.ListField(child=StrictCharField())
    mode = serializers.ChoiceField(choices=["simple", "full"])
    disposition = serializers.ChoiceField(choices=["quality", "spam"])
    labels = LabelDescriptionOutput(many=True)
    conversation = ConversationOut()
    prompt = StrictCharField(allow_null=True, required=False)
    reply = StrictCharField(allow_null=True, required=False)


class RankTaskOut(serializers.Serializer):
    id = StrictUUIDField()
    type = serializers.ChoiceField(
        choices=[TaskKind.RANK_ASSISTANT_REPLIES.value, TaskKind.RANK_PROMPTER_REPLIES.value]
    )
    conversation = ConversationOut()
    replies = serializers.ListField(child=StrictCharField())
    reply_messages = ConversationMessageOut(many=True)
    message_tree_id = StrictUUIDField()
    ranking_parent_id = StrictUUIDField()
    reveal_synthetic = serializers.BooleanField()


ANY_TASK = PolymorphicProxySerializer(
    component_name="AnyTask",
    serializers={
        TaskKind.INITIAL_PROMPT.value: InitialPromptTaskOut,
        TaskKind.ASSISTANT_REPLY.value: ReplyTaskOut,
        TaskKind.PROMPTER_REPLY.value: ReplyTaskOut,
        TaskKind.LABEL_INITIAL_PROMPT.value: LabelTaskOut,
        TaskKind.LABEL_ASSISTANT_REPLY.value: LabelTaskOut,
        TaskKind.LABEL_PROMPTER_REPLY.value: LabelTaskOut,
        TaskKind.RANK_ASSISTANT_REPLIES.value: RankTaskOut,
        TaskKind.RANK_PROMPTER_REPLIES.value: RankTaskOut,
    },
    resource_type_field_name="type",
)

# Available tasks per task type (OA ``dict[TaskRequestType, int]``): one integer per kind.
TaskAvailabilityOut = type(
    "TaskAvailabilityOut",
    (serializers.Serializer,),
    {kind.value: serializers.IntegerField() for kind in TaskKind},
)


def any_interaction(
    variants: dict[str, type[serializers.Serializer]],
) -> PolymorphicProxySerializer:
    """OA's ``AnyInteraction``: one member per interaction type, each the serializer that
    validates it plus the ``type`` and ``user`` every interaction carries."""
    members = {
        type_value: type(
            "".join(part.title() for part in type_value.split("_")) + "Interaction",
            (serializer_class,),
            {
                "type": serializers.ChoiceField(choices=[type_value]),
                "user": ProtocolUserSerializer(),
                "__doc__": serializer_class.__doc__,
            },
        )
        for type_value, serializer_class in variants.items()
    }
    return PolymorphicProxySerializer(
        component_name="AnyInteraction",
        serializers=members,
        resource_type_field_name="type",
    )
