"""``InputSerializer``: fields built once per class, copied per instance, and no instance
sees another's data or errors (threads included)."""

from __future__ import annotations

import threading

import pytest
from rest_framework import serializers

from frontend_api.v1.auth import ProtocolUserSerializer
from frontend_api.v1.input_serializer import InputSerializer
from frontend_api.v1.label_input import TextLabelsInput
from frontend_api.v1.tasks import TaskRequestInput

ADA = {"id": "ada", "display_name": "Ada", "auth_method": "local"}
LABELS = {"spam": 0.0, "quality": 0.5}


def test_each_instance_has_its_own_bound_fields_from_one_prototype():
    first, second = TaskRequestInput(data={}), TaskRequestInput(data={})
    assert first.fields["lang"] is not second.fields["lang"]
    assert first.fields["lang"].parent is first and second.fields["lang"].parent is second
    assert first.fields["user"].fields["id"] is not second.fields["user"].fields["id"]
    # The deep copy is made once per class, not per instance.
    prototype = TaskRequestInput.__dict__["_grove_prototype_fields"]
    TaskRequestInput(data={}).fields  # noqa: B018
    assert TaskRequestInput.__dict__["_grove_prototype_fields"] is prototype
    # A subclass builds its own (its declared fields may differ).
    assert "_grove_prototype_fields" not in ProtocolUserSerializer.__dict__ or (
        ProtocolUserSerializer.__dict__["_grove_prototype_fields"] is not prototype
    )


def test_validation_gives_the_same_data_and_errors_as_drf_own_serializer():
    class Plain(serializers.Serializer):
        name = serializers.CharField(max_length=5)
        tags = serializers.ListField(child=serializers.IntegerField(), min_length=1)
        user = ProtocolUserSerializer()

    class Cached(InputSerializer):
        name = serializers.CharField(max_length=5)
        tags = serializers.ListField(child=serializers.IntegerField(), min_length=1)
        user = ProtocolUserSerializer()

    bodies = [
        {"name": "ok", "tags": [1, 2], "user": ADA},
        {"name": "far too long", "tags": [], "user": {**ADA, "auth_method": "carrier pigeon"}},
        {"tags": ["x"], "user": {"id": "ada"}},
        {"name": "ok", "tags": [3], "user": "not an object"},
    ]
    for body in bodies:
        plain, cached = Plain(data=body), Cached(data=body)
        assert plain.is_valid() == cached.is_valid()
        assert plain.errors == cached.errors
        if not plain.errors:
            assert plain.validated_data == cached.validated_data


def test_threads_validating_at_once_each_get_their_own_result():
    good = {
        "type": "text_labels",
        "user": ADA,
        "message_id": "8b1f4a56-3c2e-4f0e-9d6a-0b4a3c2e1f00",
        "labels": LABELS,
    }
    bad = {**good, "labels": {"spam": "yes"}, "message_id": 7}
    failures: list[str] = []
    start = threading.Barrier(8)

    def work(index: int) -> None:
        start.wait()
        for round_ in range(300):
            body = good if (index + round_) % 2 else bad
            serializer = TextLabelsInput(data=body)
            valid = serializer.is_valid()
            if body is good and (
                not valid or serializer.validated_data["labels"]["quality"] != 0.5
            ):
                failures.append(f"good body refused: {serializer.errors}")
            if body is bad and (valid or set(serializer.errors) != {"labels", "message_id"}):
                failures.append(f"bad body: {serializer.errors}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@pytest.mark.parametrize("labels", [{"spam": 1}, [{"name": "spam", "value": 1}]])
def test_labels_in_either_form_still_parse_as_numbers(labels):
    serializer = TextLabelsInput(
        data={"user": ADA, "message_id": "8b1f4a56-3c2e-4f0e-9d6a-0b4a3c2e1f00", "labels": labels}
    )
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["labels"] == {"spam": 1.0}
