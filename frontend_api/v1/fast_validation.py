"""A body DRF would accept as it is, validated without DRF's field machinery.

DRF validates a body field by field through several calls each (``get_value``,
``validate_empty_values``, ``to_internal_value``, every validator), about 60-110 µs for a task
request or a review's body on this machine, 230 µs for the bodies of one task cycle, and py-spy
put DRF's validation at 8 % of a web process's request samples at 16 clients. A plan made once
per serializer class checks the body in one pass instead, and answers only when it is sure:

- every value is already what DRF would return (a string with nothing to trim, within its
  lengths, with no NUL or surrogate; a JSON boolean; a listed choice; a UUID string; JSON
  numbers where numbers are asked; nested bodies alike) and the result is exactly DRF's;
- anything else (an error, a value DRF would convert, a field or serializer this module does
  not know) answers ``None``, and DRF validates the body as always, with its errors.

Only fields whose classes are known exactly get a plan (a subclass may override anything), and
only serializers without ``validate`` or ``validate_<field>`` hooks. A differential test
(``tests/api/test_fast_validation.py``) checks, for generated bodies, that every answer given
here is DRF's own.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from typing import Any

from django.core.validators import (
    MaxLengthValidator,
    MinLengthValidator,
    ProhibitNullCharactersValidator,
)
from rest_framework import fields, serializers
from rest_framework.fields import empty
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from frontend_api.v1 import strict_fields

_SURROGATE = re.compile("[\ud800-\udfff]")
# Integers DRF's IntegerField and FloatField return unchanged (float(n) exact below 2**53).
_EXACT_INT = 2**53


class _Unsure(Exception):
    """DRF decides: an error, a conversion, or a case this module does not take."""


_SKIP = object()  # an absent optional field without a default: not in the result
Check = Callable[[Any], Any]

_CHAR_CONVERSIONS = (
    serializers.CharField.to_internal_value,
    strict_fields.StrictCharField.to_internal_value,
)
_CHAR_VALIDATORS = (
    MaxLengthValidator,
    MinLengthValidator,
    ProhibitNullCharactersValidator,
    ProhibitSurrogateCharactersValidator,
)


def _inherits(field, name: str, owner: type) -> bool:
    return getattr(type(field), name) is getattr(owner, name)


def _plain(field, owner: type) -> bool:
    """``field`` validates as ``owner`` does: emptiness, running and validators unchanged."""
    return (
        _inherits(field, "validate_empty_values", fields.Field)
        and _inherits(field, "run_validators", fields.Field)
        and _inherits(field, "get_value", owner)
        and not field.read_only
    )


def _char(field) -> Check | None:
    if not (
        getattr(type(field), "to_internal_value", None) in _CHAR_CONVERSIONS
        and _inherits(field, "run_validation", serializers.CharField)
        and _plain(field, fields.Field)
        and all(isinstance(v, _CHAR_VALIDATORS) for v in field.validators)
    ):
        return None
    longest, shortest = field.max_length, field.min_length
    blank, trim = field.allow_blank, field.trim_whitespace

    def check(value):
        if type(value) is not str:
            raise _Unsure
        if not value:
            if blank:
                return value
            raise _Unsure
        if trim and (value[0].isspace() or value[-1].isspace()):
            raise _Unsure
        if (longest is not None and len(value) > longest) or (
            shortest is not None and len(value) < shortest
        ):
            raise _Unsure
        if "\x00" in value or (not value.isascii() and _SURROGATE.search(value)):
            raise _Unsure
        return value

    return check


def _choice(field) -> Check | None:
    if (
        type(field) is not serializers.ChoiceField
        or field.validators
        or not _plain(field, fields.Field)
    ):
        return None
    by_string = dict(field.choice_strings_to_values)

    def check(value):
        if type(value) is not str or value not in by_string:
            raise _Unsure
        return by_string[value]

    return check


def _boolean(field) -> Check | None:
    if type(field) not in (serializers.BooleanField, strict_fields.StrictBooleanField):
        return None
    if field.validators or not _plain(field, fields.Field):
        return None

    def check(value):
        if type(value) is not bool:
            raise _Unsure
        return value

    return check


def _uuid(field) -> Check | None:
    if type(field) is not strict_fields.StrictUUIDField or field.validators:
        return None
    if not _plain(field, fields.Field):
        return None

    def check(value):
        if type(value) is not str:
            raise _Unsure
        try:
            return uuid.UUID(hex=value)
        except ValueError:
            raise _Unsure from None

    return check


def _integer_list(field) -> Check | None:
    child = getattr(field, "child", None)
    if type(field) is not serializers.ListField or not _plain(field, serializers.ListField):
        return None
    if type(child) is not strict_fields.StrictIntegerField or child.validators:
        return None
    if not all(isinstance(v, MaxLengthValidator | MinLengthValidator) for v in field.validators):
        return None
    allow_empty, longest, shortest = field.allow_empty, field.max_length, field.min_length

    def check(value):
        if type(value) is not list or (not value and not allow_empty):
            raise _Unsure
        if (longest is not None and len(value) > longest) or (
            shortest is not None and len(value) < shortest
        ):
            raise _Unsure
        for item in value:
            if type(item) is not int or not -_EXACT_INT < item < _EXACT_INT:
                raise _Unsure
        return list(value)

    return check


def _number(value) -> float:
    """A label value as StrictFloatField returns it."""
    kind = type(value)
    if kind is float and math.isfinite(value):
        return value
    if kind is int and -_EXACT_INT < value < _EXACT_INT:
        return float(value)
    raise _Unsure


def _labels(field) -> Check | None:
    from frontend_api.v1.label_input import LabelsField

    if type(field) is not LabelsField or field.validators or not _plain(field, fields.Field):
        return None

    def check(value):
        if type(value) is dict:
            return {name: _number(number) for name, number in value.items()}
        if type(value) is not list:
            raise _Unsure
        labels: dict[str, float] = {}
        for item in value:
            if type(item) is not dict or "value" not in item:
                raise _Unsure
            name = item.get("name")
            if type(name) is not str or name in labels:
                raise _Unsure
            labels[name] = _number(item["value"])
        return labels

    return check


def _nested(field) -> Check | None:
    if not isinstance(field, serializers.Serializer) or getattr(field, "many", False):
        return None
    plan = plan_for(type(field))
    if plan is None or field.validators:
        return None

    def check(value):
        result = plan(value)
        if result is None:
            raise _Unsure
        return result

    return check


_KINDS = (_char, _choice, _boolean, _uuid, _integer_list, _labels, _nested)


def _field_check(name: str, field) -> Callable[[dict], Any] | None:
    if field.source not in (None, name):
        return None
    for kind in _KINDS:
        value_check = kind(field)
        if value_check is not None:
            break
    else:
        return None
    required, allow_null = field.required, field.allow_null
    default = field.default
    if default is not empty and callable(default):
        return None

    def check(body: dict):
        value = body.get(name, empty)
        if value is empty:
            if required:
                raise _Unsure
            return _SKIP if default is empty else default
        if value is None:
            if allow_null:
                return None
            raise _Unsure
        return value_check(value)

    return check


def _serializer_plan(serializer_class: type) -> Callable[[Any], dict | None] | None:
    if serializer_class.validate is not serializers.Serializer.validate:
        return None
    if getattr(getattr(serializer_class, "Meta", None), "validators", None):
        return None
    prototype = serializer_class()
    declared = prototype.get_fields()
    checks = []
    for name, field in declared.items():
        if hasattr(serializer_class, f"validate_{name}"):
            return None
        check = _field_check(name, field)
        if check is None:
            return None
        checks.append((name, check))

    def plan(body) -> dict | None:
        if type(body) is not dict:
            return None
        result = {}
        try:
            for name, check in checks:
                value = check(body)
                if value is not _SKIP:
                    result[name] = value
        except _Unsure:
            return None
        return result

    return plan


_PLANS: dict[type, Callable[[Any], dict | None] | None] = {}


def plan_for(serializer_class: type) -> Callable[[Any], dict | None] | None:
    """The class's plan (a body → DRF's validated data, or None: ask DRF), or None when the
    class has none. Made once per class (two threads may both make it: the same plan)."""
    try:
        return _PLANS[serializer_class]
    except KeyError:
        plan = _PLANS[serializer_class] = _serializer_plan(serializer_class)
        return plan
