"""``InputSerializer``: a plain DRF serializer that builds its fields once per class.

DRF gives every serializer instance its own fields by deep-copying the class's declared
fields, and a field's deep copy calls its constructor again: for a task request's body (seven
fields, the user's three among them) that was about half of its validation, some 0.6 ms of
web CPU per task cycle over the four bodies a cycle validates. Here the deep copy is made
once per class and each instance gets shallow copies of it, which ``bind`` then names and
attaches to the instance, as DRF does with its copies.

What the copies share with the class's prototype is what validation only reads: options,
error messages, a list field's child, a nested serializer's declared fields (each copy of a
nested serializer builds its own ``fields`` on first use, the same way). For input only:
no ``ModelSerializer`` (its fields are built from the model per instance) and no field that
keeps state of a call on itself.

A body is first offered to the class's fast validation plan (``fast_validation``), which
returns DRF's own result for a body DRF would take as it is; anything else, and every error,
goes through DRF.
"""

from __future__ import annotations

import copy

from rest_framework import serializers
from rest_framework.fields import empty

_PROTOTYPE = "_grove_prototype_fields"


class InputSerializer(serializers.Serializer):
    def get_fields(self) -> dict:
        cls = type(self)
        prototype = cls.__dict__.get(_PROTOTYPE)
        if prototype is None:  # two threads may both build it: either copy is the same
            prototype = copy.deepcopy(self._declared_fields)
            setattr(cls, _PROTOTYPE, prototype)
        return {name: copy.copy(field) for name, field in prototype.items()}

    def run_validation(self, data=empty):
        if getattr(self, "parent", None) is None and not self.partial:
            fast = _fast(type(self), data)
            if fast is not None:
                return fast
        return super().run_validation(data)

    @classmethod
    def validated(cls, data) -> dict:
        """``cls(data=data)``'s validated data, or its ``ValidationError``. A body the fast plan
        takes builds no serializer at all: a serializer is a DRF field, and building one (its
        error messages gathered over its classes, its fields copied) was about half of the
        fast path's cost."""
        fast = _fast(cls, data)
        if fast is not None:
            return fast
        serializer = cls(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def _fast(serializer_class: type, data) -> dict | None:
    from frontend_api.v1.fast_validation import plan_for

    plan = plan_for(serializer_class)
    return None if plan is None else plan(data)
