"""Numbers as JSON writes them: no ``"0"`` for 0, no ``true`` for 1.0.

DRF's IntegerField and FloatField coerce strings and booleans; rankings and label values are
JSON numbers, and anything else is a field error (422 with ``errors``, as every type error).
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
