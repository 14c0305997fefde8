"""Values as JSON writes them: no ``"0"`` for 0, no ``true`` for 1.0, no ``0`` for "0".

DRF's IntegerField and FloatField coerce strings and booleans, its CharField numbers and its
UUIDField integers (``false`` is UUID 0); rankings and label values are JSON numbers, texts
and ids JSON strings, and anything else is a field error (422 with ``errors``, as every type
error).
"""

from __future__ import annotations

from rest_framework import serializers


class _Strict:
    accepted: tuple[type, ...] = ()
    type_name = ""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, self.accepted):
            raise serializers.ValidationError(
                f"expected a JSON {self.type_name}, got {type(data).__name__} {data!r:.40}",
                code="invalid",
            )
        return super().to_internal_value(data)


class StrictIntegerField(_Strict, serializers.IntegerField):
    accepted = (int,)
    type_name = "integer"


class StrictFloatField(_Strict, serializers.FloatField):
    accepted = (int, float)
    type_name = "number"


class StrictCharField(serializers.CharField):
    """A JSON string: DRF's CharField also takes a number (``0`` becomes ``"0"``)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError(
                f"expected a JSON string, got {type(data).__name__} {data!r:.40}", code="invalid"
            )
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    """A UUID written as a JSON string: DRF's UUIDField reads a number (or ``false``) as
    ``UUID(int=...)``."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError(
                f"expected a UUID string, got {type(data).__name__} {data!r:.40}", code="invalid"
            )
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false`` (in a body; a query string's flags stay DRF's words):
    DRF's BooleanField also takes ``0``, ``1``, ``"yes"``, ``"true"``..."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            raise serializers.ValidationError(
                f"expected a JSON boolean, got {type(data).__name__} {data!r:.40}", code="invalid"
            )
        return data
