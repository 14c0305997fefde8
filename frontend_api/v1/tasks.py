"""/api/v1/tasks/: request, availability, ack, nack, interaction, close (OA's task protocol)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import timezone
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import ApiClient, User
from backend.console import deployment
from backend.trees import selectors
from backend.trees.core.policy import TaskKind
from backend.trees.errors import TaskNotFound, TaskNotOwned
from backend.trees.growth_config import active_config
from backend.trees.services import interactions, task_lifecycle, tasks
from frontend_api.v1.auth import (
    ProtocolUserSerializer,
    acting_user,
    existing_user,
    header_user,
    parse_user_header,
)
from frontend_api.v1.errors import OasstErrorCode, ProtocolError
from frontend_api.v1.input_serializer import InputSerializer
from frontend_api.v1.label_input import TextLabelsInput, store_labels
from frontend_api.v1.protocol import render_task, task_done
from frontend_api.v1.schema import OptionalBodyAutoSchema
from frontend_api.v1.strict_fields import (
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictUUIDField,
)
from frontend_api.v1.task_schemas import ANY_TASK, TaskAvailabilityOut, any_interaction

LEGACY_KINDS = {"summarize_story", "rate_summary"}
ERROR_RESPONSE = inline_serializer(
    "ErrorResponse",
    {"message": StrictCharField(), "error_code": serializers.IntegerField()},
)
TASK_DONE = inline_serializer("TaskDone", {"type": StrictCharField(), "id": StrictUUIDField()})


@extend_schema_field({"type": "string", "enum": [kind.value for kind in TaskKind]})
class TaskTypeField(serializers.CharField):
    """A task type; unknown values get OA's TASK_INVALID_REQUEST_TYPE (1000), not a 422."""


class TaskRequestInput(InputSerializer):
    type = TaskTypeField(default=TaskKind.RANDOM.value)
    # Required (OA's TaskRequest says Optional, but answers a missing one 400/4000, as the view
    # does before this serializer runs).
    user = ProtocolUserSerializer()
    collective = StrictBooleanField(default=False)
    lang = StrictCharField(max_length=32, required=False, allow_null=True)


class TaskRequestView(APIView):
    """POST /tasks/: the next task for a user (OA ``TaskRequest`` → ``AnyTask``)."""

    acting_user_field = "user"  # the throttle counts this user (throttling.py)

    InputSerializer = TaskRequestInput

    @extend_schema(
        request=InputSerializer,
        responses={200: ANY_TASK, 400: ERROR_RESPONSE, 503: ERROR_RESPONSE},
    )
    def post(self, request):
        if isinstance(request.data, dict) and not request.data.get("user"):
            raise ProtocolError("a task request needs a user", OasstErrorCode.USER_NOT_SPECIFIED)
        data = self.InputSerializer.validated(request.data)
        kind = _task_kind(data["type"])
        lang = data.get("lang") or "en"
        # The frontend's name for the user: a new user's row is rolled back with a 503.
        volunteer = (request.auth.id, data["user"]["auth_method"], data["user"]["id"])
        deployment.note_rest_volunteer(volunteer, lang)  # in memory; flushed in batches
        with acting_user(request.auth, data["user"]) as user:
            task = tasks.request_task(user=user, kind=kind, lang=lang, api_client=request.auth)
        return Response(render_task(task, viewer=user))


class TaskAvailabilityQuery(serializers.Serializer):
    lang = StrictCharField(max_length=32, required=False, allow_blank=True)


class TaskAvailabilityView(APIView):
    """POST /tasks/availability?lang=: number of available tasks per task type."""

    acting_user_field = ""  # the throttle counts this user (throttling.py)
    schema = OptionalBodyAutoSchema()  # no body: the counts for no user in particular

    @extend_schema(
        parameters=[TaskAvailabilityQuery],
        request=ProtocolUserSerializer,
        responses={200: TaskAvailabilityOut, 422: ERROR_RESPONSE},
    )
    def post(self, request):
        query = TaskAvailabilityQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        lang = query.validated_data.get("lang") or "en"
        if isinstance(request.data, dict) and not request.data:  # no body, or {}
            return Response(_availability(lang, user=None))
        protocol_user = ProtocolUserSerializer.validated(request.data)
        with acting_user(request.auth, protocol_user) as user:
            return Response(_availability(lang, user=user))


def _availability(lang: str, *, user) -> dict:
    return selectors.task_availability(
        lang=lang, config=active_config(), now=timezone.now(), user_id=user.id if user else None
    )


class TaskAckInput(InputSerializer):
    message_id = StrictCharField(max_length=200)


class TaskAckView(APIView):
    """POST /tasks/{task_id}/ack: the frontend shows the task as ``message_id``."""

    InputSerializer = TaskAckInput

    @extend_schema(
        request=InputSerializer, responses={204: None, 400: ERROR_RESPONSE, 409: ERROR_RESPONSE}
    )
    def post(self, request, task_id):
        ack(request.auth, task_id, request.data, parse_user_header(request))
        return Response(status=204)


def ack(client: ApiClient, task_id: uuid.UUID, body, named: tuple[str, str] | None) -> None:
    """``POST /tasks/{task_id}/ack`` and the socket's ``task_ack``: one door. ``named``: the
    acting user's auth method and username (X-OASST-USER's rule: an existing, enabled user of
    the client), found by the ack's own statement when the ack is in order; otherwise looked
    up here, so that an unknown or disabled user is refused as before (404/4002, 403/4001)."""
    data = TaskAckInput.validated(body)
    message_id, now = data["message_id"], timezone.now()
    if named is None:
        task_lifecycle.ack_task(
            task_id=task_id, frontend_message_id=message_id, api_client=client, now=now
        )
    elif not task_lifecycle.ack_in_one_statement(task_id, message_id, client.id, now, named=named):
        # Not in order: the user is looked up for its own refusal, then the checks say why.
        task_lifecycle.ack_task(
            task_id=task_id,
            frontend_message_id=message_id,
            user=existing_user(client, *named),
            api_client=client,
            now=now,
            one_statement_tried=True,
        )


class TaskNackInput(InputSerializer):
    reason = StrictCharField(required=False, allow_null=True, allow_blank=True)


class TaskNackView(APIView):
    """POST /tasks/{task_id}/nack: the user skips the task."""

    InputSerializer = TaskNackInput

    @extend_schema(request=InputSerializer, responses={204: None, 400: ERROR_RESPONSE})
    def post(self, request, task_id):
        nack(request.auth, task_id, request.data, header_user(request))
        return Response(status=204)


def nack(client: ApiClient, task_id: uuid.UUID, body, user: User | None) -> None:
    """``POST /tasks/{task_id}/nack`` and the socket's ``task_nack``: one door."""
    data = TaskNackInput.validated(body)
    task_lifecycle.nack_task(
        task_id=task_id, reason=data.get("reason") or "", user=user, api_client=client
    )


class TaskCloseInput(InputSerializer):
    message_id = StrictCharField(max_length=200)


class TaskCloseView(APIView):
    """POST /tasks/close: mark the task bound to ``message_id`` done."""

    InputSerializer = TaskCloseInput

    @extend_schema(
        request=InputSerializer,
        responses={200: TASK_DONE, 400: ERROR_RESPONSE, 404: ERROR_RESPONSE},
    )
    def post(self, request):
        data = self.InputSerializer.validated(request.data)
        task = task_lifecycle.close_task(
            frontend_message_id=data["message_id"], api_client=request.auth
        )
        return Response(task_done(task.id))


ACKED_ID = "The frontend's id the task was acknowledged with (POST /tasks/{task_id}/ack)."


class TextReplySerializer(InputSerializer):
    """The answer to an initial_prompt, assistant_reply or prompter_reply task."""

    message_id = StrictCharField(max_length=200, help_text=ACKED_ID)
    user_message_id = StrictCharField(
        max_length=200, help_text="The frontend's own id for the message written here."
    )
    # Blank text reaches the service, which answers OA's 1010 (not a 422).
    text = StrictCharField(allow_blank=True, trim_whitespace=False)
    lang = StrictCharField(max_length=32, required=False, allow_null=True)


class RankingSerializer(InputSerializer):
    """The answer to a rank_*_replies task."""

    message_id = StrictCharField(max_length=200, help_text=ACKED_ID)
    ranking = serializers.ListField(
        child=StrictIntegerField(),
        min_length=1,
        help_text="Indices into the task's replies, best first; each reply exactly once.",
    )
    not_rankable = serializers.BooleanField(
        required=False, allow_null=True, help_text="The replies cannot be ordered (all bad)."
    )


INTERACTIONS = {
    "text_reply_to_message": TextReplySerializer,
    "message_ranking": RankingSerializer,
    "text_labels": TextLabelsInput,
}
ANY_INTERACTION = any_interaction(INTERACTIONS)


class TaskInteractionInput(InputSerializer):
    type = StrictCharField()
    user = ProtocolUserSerializer()


class TaskInteractionView(APIView):
    """POST /tasks/interaction: what the user did (OA ``AnyInteraction``) → ``TaskDone``."""

    acting_user_field = "user"  # the throttle counts this user (throttling.py)

    InputSerializer = TaskInteractionInput

    @extend_schema(
        request=ANY_INTERACTION,
        responses={
            200: TASK_DONE,
            400: ERROR_RESPONSE,
            403: ERROR_RESPONSE,
            404: ERROR_RESPONSE,
            409: ERROR_RESPONSE,
        },
    )
    def post(self, request):
        return Response(interact(request.auth, request.data))


def interact(client: ApiClient, body) -> dict:
    """``POST /tasks/interaction`` and the socket's interaction frames: one door; OA's
    ``TaskDone``."""
    head = TaskInteractionInput.validated(body)
    serializer_class = INTERACTIONS.get(head["type"])
    if serializer_class is None:
        raise ProtocolError(
            f"unsupported interaction type {head['type']!r}; expected one of "
            + ", ".join(INTERACTIONS),
            OasstErrorCode.TASK_INVALID_RESPONSE_TYPE,
        )
    data = serializer_class.validated(body)
    if head["type"] == "text_labels":
        with labelling_user(client, head["user"], data) as labeller:
            return task_done(store_labels(labeller, data))
    task = task_lifecycle.task_for_frontend_message(
        api_client_id=client.id, frontend_message_id=data["message_id"]
    )
    # A task handed to a user is answered by that user, who exists: a name never seen
    # is refused without creating a row for it.
    with acting_user(client, head["user"], create=task.user_id is None) as user:
        if user is None:
            raise TaskNotOwned(f"task {task.id} is assigned to another user")
        _answer(head["type"], task, user, data)
    return task_done(task.id)


def _answer(kind: str, task, user, data: dict) -> None:
    if kind == "text_reply_to_message":
        interactions.submit_text_reply(
            task_id=task.id,
            user=user,
            text=data["text"],
            frontend_message_id=data["user_message_id"],
            lang=data.get("lang"),
        )
    else:
        interactions.submit_ranking(
            task_id=task.id,
            user=user,
            ranking=data["ranking"],
            not_rankable=bool(data.get("not_rankable")),
        )


@contextmanager
def labelling_user(client: ApiClient, protocol_user: dict, data: dict) -> Iterator[User]:
    """A review (labels with a task id) comes from the task's user, who exists: an unknown
    name is refused without a row being created. A report may come from a new user, kept
    only if the report is stored (``acting_user``)."""
    with acting_user(client, protocol_user, create=not data.get("task_id")) as user:
        if user is None:
            if selectors.task_of_client(data["task_id"], api_client_id=client.id) is None:
                raise TaskNotFound(f"task {data['task_id']} not found")  # another client's
            raise TaskNotOwned(f"task {data['task_id']} is assigned to another user")
        yield user


def _task_kind(value: str) -> TaskKind:
    try:
        return TaskKind(value)
    except ValueError:
        known = ", ".join(k.value for k in TaskKind)
        code = (
            OasstErrorCode.TASK_REQUESTED_TYPE_NOT_AVAILABLE
            if value in LEGACY_KINDS
            else OasstErrorCode.TASK_INVALID_REQUEST_TYPE
        )
        status = 503 if value in LEGACY_KINDS else 400  # OA: legacy types are "not available"
        raise ProtocolError(
            f"unknown task type {value!r}; expected one of {known}", code, status
        ) from None
