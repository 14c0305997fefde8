"""The v1 request body parser: JSON, with a nesting limit.

Python's JSON decoder recurses once per level, so a body of a thousand ``[`` overflowed the
stack (a 500). No protocol body nests deeper than a handful of levels (an interaction's labels
inside its user ... ): deeper than GROVE_MAX_JSON_DEPTH is refused with a 400 in OA's shape.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def json_depth_exceeds(value, limit: int) -> bool:
    """Whether ``value`` (decoded JSON) nests objects and arrays deeper than ``limit``."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class ProtocolJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.GROVE_MAX_JSON_DEPTH
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {limit} levels") from None
        if json_depth_exceeds(data, limit):
            raise ParseError(f"JSON nested deeper than {limit} levels")
        return data
