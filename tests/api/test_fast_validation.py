"""Every answer of the fast validation plans is DRF's own (frontend_api/v1/fast_validation.py).

Bodies are generated around each hot serializer's fields: valid values, values DRF converts
(whitespace to trim, numbers as strings), values it refuses (blank, too long, NUL, surrogates,
wrong types, null), absent fields and unknown keys. For each, a plan either declines (None) or
gives exactly what DRF's own validation returns, types included.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from frontend_api.v1.auth import ProtocolUserSerializer
from frontend_api.v1.fast_validation import plan_for
from frontend_api.v1.label_input import TextLabelsInput
from frontend_api.v1.tasks import (
    RankingSerializer,
    TaskAckInput,
    TaskInteractionInput,
    TaskRequestInput,
    TextReplySerializer,
)

HOT = [
    TaskRequestInput,
    TaskAckInput,
    TaskInteractionInput,
    TextReplySerializer,
    RankingSerializer,
    TextLabelsInput,
    ProtocolUserSerializer,
]
USER = {"id": "u-17", "display_name": "Ada L.", "auth_method": "local"}
MESSAGE_ID = "3f1a0b2c-1d2e-4f50-8a9b-0c1d2e3f4a5b"
TYPICAL = {
    TaskRequestInput: {"type": "random", "user": USER, "lang": "en"},
    TaskAckInput: {"message_id": "m-1"},
    TaskInteractionInput: {"type": "text_labels", "user": USER, "labels": {"spam": 0.0}},
    TextReplySerializer: {
        "type": "text_reply_to_message",
        "user": USER,
        "message_id": "m-1",
        "user_message_id": "um-1",
        "text": "  A reply, spaces kept  ",
        "lang": "en",
    },
    RankingSerializer: {"type": "message_ranking", "message_id": "m-1", "ranking": [2, 0, 1]},
    TextLabelsInput: {
        "type": "text_labels",
        "user": USER,
        "message_id": MESSAGE_ID,
        "task_id": str(uuid.uuid4()),
        "labels": [{"name": "spam", "value": 0}, {"name": "quality", "value": 0.75}],
        "text": "",
    },
    ProtocolUserSerializer: USER,
}


def drf(serializer_class, body):
    """DRF's own validation, the fast path bypassed: the data, or the errors."""
    serializer = serializer_class(data=body)
    try:
        return True, serializers.Serializer.run_validation(serializer, body)
    except ValidationError as error:
        return False, error.detail


def typed(value):
    """``value`` with every leaf's type: 1 and 1.0 and True differ, as UUID and str do."""
    if isinstance(value, dict):
        return ("dict", {k: typed(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return ("list", [typed(v) for v in value])
    return (type(value).__name__, value)


@pytest.mark.parametrize("serializer_class", HOT, ids=lambda c: c.__name__)
def test_each_hot_serializer_has_a_plan_that_takes_its_typical_body(serializer_class):
    plan = plan_for(serializer_class)
    assert plan is not None
    body = TYPICAL[serializer_class]
    fast = plan(body)
    assert fast is not None, "a typical body must not fall back to DRF"
    ok, expected = drf(serializer_class, body)
    assert ok and typed(fast) == typed(expected)


@pytest.mark.parametrize("serializer_class", HOT, ids=lambda c: c.__name__)
def test_the_serializer_returns_the_plans_answer_and_drfs_errors(serializer_class):
    body = TYPICAL[serializer_class]
    serializer = serializer_class(data=body)
    assert serializer.is_valid(), serializer.errors
    assert typed(serializer.validated_data) == typed(drf(serializer_class, body)[1])
    broken = {**body, "message_id": 7, "user": {"id": ""}, "type": None}
    refused = serializer_class(data=broken)
    ok, errors = drf(serializer_class, broken)
    assert refused.is_valid() is ok
    if not ok:
        assert refused.errors == errors


# Bodies at the rules' edges: each either declined by the plan or answered as DRF answers.
EDGES = [
    (TextLabelsInput, {"labels": {"spam": 0, "quality": 1}}),
    (TextLabelsInput, {"labels": [{"name": "spam", "value": 1}]}),
    (TextLabelsInput, {"labels": {"spam": True}}),
    (TextLabelsInput, {"labels": {"spam": float("nan")}}),
    (TextLabelsInput, {"labels": {"spam": 2**60}}),
    (TextLabelsInput, {"labels": [{"name": "spam", "value": 0}, {"name": "spam", "value": 1}]}),
    (TextLabelsInput, {"labels": []}),
    (TextLabelsInput, {"message_id": MESSAGE_ID.upper()}),
    (TextLabelsInput, {"message_id": "not-a-uuid"}),
    (TextLabelsInput, {"task_id": None}),
    (TextLabelsInput, {"is_report": 1}),
    (TextLabelsInput, {"text": " padded "}),
    (TextReplySerializer, {"text": "a\x00b"}),
    (TextReplySerializer, {"text": "\ud800"}),
    (TextReplySerializer, {"text": ""}),
    (TextReplySerializer, {"message_id": " m-1"}),
    (TextReplySerializer, {"message_id": "x" * 201}),
    (TextReplySerializer, {"lang": None}),
    (TextReplySerializer, {"user_message_id": 5}),
    (RankingSerializer, {"ranking": [0, True]}),
    (RankingSerializer, {"ranking": []}),
    (RankingSerializer, {"ranking": [1.0]}),
    (RankingSerializer, {"not_rankable": None}),
    (RankingSerializer, {"not_rankable": "true"}),
    (TaskRequestInput, {"type": "random ", "collective": True}),
    (TaskRequestInput, {"user": {**USER, "auth_method": "LOCAL"}}),
    (TaskRequestInput, {"user": {**USER, "display_name": "\u00a0Ada"}}),
    (TaskRequestInput, {"lang": "x" * 33}),
    (TaskRequestInput, {"collective": 0}),
]


@pytest.mark.parametrize(("serializer_class", "changes"), EDGES)
def test_edge_bodies_get_drfs_answer_or_none(serializer_class, changes):
    body = {**TYPICAL[serializer_class], **changes}
    fast = plan_for(serializer_class)(body)
    ok, expected = drf(serializer_class, body)
    if fast is not None:
        assert ok and typed(fast) == typed(expected)


def test_a_serializer_with_its_own_hooks_gets_no_plan():
    class Hooked(serializers.Serializer):
        name = serializers.CharField()

        def validate_name(self, value):
            return value.upper()

    class Other(serializers.Serializer):
        when = serializers.DateTimeField()

    assert plan_for(Hooked) is None
    assert plan_for(Other) is None


# Values around the fields' rules; some valid, many converted or refused by DRF.
_texts = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta",
            "en",
            "local",
            "discord",
            "random",
            "m-1",
            "é",
            "a\x00b",
            "\ud800",
            "x" * 32,
            "x" * 33,
            "x" * 200,
            "x" * 201,
            "1",
            "true",
            MESSAGE_ID,
            MESSAGE_ID.upper(),
            "text_labels",
            "text_reply_to_message",
            "message_ranking",
            "\u00a0a",
            "a\u2003",
        ]
    ),
    st.text(max_size=12),
)
_scalars = st.one_of(
    _texts,
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.just(2**53),
    st.just(-(2**53) + 1),
)
_users = st.one_of(
    st.just(USER),
    st.fixed_dictionaries(
        {}, optional={"id": _scalars, "display_name": _scalars, "auth_method": _scalars}
    ),
    _scalars,
)
_label_values = st.one_of(st.integers(), st.floats(), st.booleans(), st.none(), _texts)
_labels = st.one_of(
    st.dictionaries(st.sampled_from(["spam", "quality", "x"]), _label_values, max_size=3),
    st.lists(
        st.one_of(
            st.fixed_dictionaries(
                {}, optional={"name": st.one_of(_texts, st.integers()), "value": _label_values}
            ),
            _scalars,
        ),
        max_size=3,
    ),
    _scalars,
)
_rankings = st.one_of(
    st.lists(st.one_of(st.integers(), st.booleans(), st.floats(), _texts), max_size=4),
    _scalars,
)
_fields = {
    "type": _scalars,
    "user": _users,
    "lang": _scalars,
    "collective": _scalars,
    "message_id": _scalars,
    "user_message_id": _scalars,
    "text": _scalars,
    "task_id": _scalars,
    "is_report": _scalars,
    "labels": _labels,
    "ranking": _rankings,
    "not_rankable": _scalars,
}

_bodies = st.one_of(
    st.fixed_dictionaries({}, optional={**_fields, "unknown": _scalars}),
    _scalars,
    st.lists(_scalars, max_size=2),
)


@st.composite
def _near_typical(draw, serializer_class):
    """A typical body with a few fields changed or removed: mostly valid, often converted."""
    body = dict(TYPICAL[serializer_class])
    for name in draw(st.lists(st.sampled_from(sorted(_fields)), max_size=2, unique=True)):
        if draw(st.booleans()) and name in body:
            del body[name]
        else:
            body[name] = draw(_fields[name])
    return body


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), serializer_class=st.sampled_from(HOT))
def test_a_plans_answer_is_drfs_answer(data, serializer_class):
    near = _near_typical(serializer_class)
    body = data.draw(st.one_of(near, near, near, _bodies))
    fast = plan_for(serializer_class)(body)
    if fast is None:
        return  # DRF decides
    ok, expected = drf(serializer_class, body)
    assert ok, f"the plan accepted a body DRF refuses: {expected}"
    assert typed(fast) == typed(expected)
