"""OpenAPI description of what every v1 operation shares (drf-spectacular extensions).

Views declare their own success body and the errors only they answer; ``ProtocolAutoSchema``
adds what follows from the plumbing itself, so no view has to repeat it:

- the ``X-OASST-USER`` header on every operation that takes an API key (the acting user: the
  per-user throttle counts it, and the reads and answers that act for a user read it);
- 403 (``X-API-Key`` missing, unknown or disabled) and 400 (a malformed ``X-OASST-USER``) on
  every operation that takes a key;
- 429 (a throttle budget spent) on every throttled operation;
- 422 (``errors`` per field) on every operation with a body or a parameter to validate;
- 404 on every operation with a path parameter (nothing by that id, or not the client's);
- 400 (not JSON, nested too deep), 413 (too large) and 415 (not ``application/json``) on
  every operation with a body;
- 503 (the database unreachable or too slow) on every operation that takes a key;
- 500 (an unexpected error, in OA's shape, without detail) on every operation;
- on request strings, the NUL character DRF's CharField refuses (a ``pattern``).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from backend.accounts.models import AuthMethod
from frontend_api.v1.auth import USERNAME_MAX_LENGTH

NO_NUL_PATTERN = "^[^\\u0000]*$"
NO_NUL_NONBLANK_PATTERN = "^[^\\u0000]+$"

USER_HEADER_PARAMETER = OpenApiParameter(
    "X-OASST-USER",
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    # What ``auth.parse_user_header`` takes: empty (absent), or a known auth method, a colon
    # and 1-128 characters (not starting or ending in a space, which HTTP strips).
    pattern=(rf"^(({'|'.join(AuthMethod.values)}):\S(.{{0,{USERNAME_MAX_LENGTH - 2}}}\S)?)?$"),
    description=(
        "The user the frontend acts for, `auth_method:username` (auth_method one of local, "
        "discord, google, system), e.g. `discord:123456`. It names the user that ack, nack and "
        "reads act for (created on first sight within the calling client) and selects the "
        "per-user throttle budget. A malformed value, or a username over 128 characters, is a "
        "400 (error_code 2012). Operations whose body carries an OA `user` object (task "
        "requests, interactions) take the user, and its throttle budget, from the body."
    ),
)


def _error_component():
    from frontend_api.v1.tasks import ERROR_RESPONSE  # the one ErrorResponse component

    return ERROR_RESPONSE


GENERIC_ERRORS = {
    403: "X-API-Key missing, unknown or disabled, or the endpoint needs a trusted client "
    "(error_code 2); or the named user is disabled (4001).",
    429: "A throttle budget (the API client's or the acting user's) is spent "
    "(error_code 429); Retry-After says when to try again.",
    422: "The body or a parameter is invalid (error_code 0): `errors` holds the problem per field.",
    404: "Nothing by that id is visible to the calling client.",
    400: "X-OASST-USER is malformed (error_code 2012), or the body is not JSON or nests deeper "
    "than GROVE_MAX_JSON_DEPTH (error_code 0).",
    413: "The body is larger than GROVE_MAX_REQUEST_BYTES (error_code 0).",
    415: "The body is not `application/json` (error_code 0).",
    500: "An unexpected error (error_code 500); the answer carries no detail, the log does.",
    503: "The database cannot be reached or did not answer in time (error_code 500); "
    "Retry-After says when to try again.",
}


class ProtocolAutoSchema(AutoSchema):
    """The project's schema class (``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``)."""

    def _takes_api_key(self) -> bool:
        return bool(self.view.get_authenticators())

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # DRF's CharField refuses a NUL character (ProhibitNullCharactersValidator); a string
        # with no format, enum or pattern of its own says so. drf-spectacular then states a
        # blank-allowed field as oneOf [pattern, ""]: its pattern must not match "" too.
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and schema.get("type") == "string"
            and not {"format", "enum", "pattern"} & set(schema)
        ):
            schema["pattern"] = NO_NUL_NONBLANK_PATTERN if field.allow_blank else NO_NUL_PATTERN
        return schema

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self._takes_api_key():
            parameters = [*parameters, USER_HEADER_PARAMETER]
        return parameters

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for status in self._generic_statuses(operation):
            responses.setdefault(str(status), self._error_response(GENERIC_ERRORS[status]))
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _generic_statuses(self, operation: dict) -> list[int]:
        statuses = [500]
        if self._takes_api_key():
            # The key is checked against the database; a malformed X-OASST-USER is a 400.
            statuses.extend((400, 403, 503))
        if self.view.get_throttles():
            statuses.append(429)
        parameters = operation.get("parameters", [])
        has_input = "requestBody" in operation or any(
            p["in"] in ("path", "query") for p in parameters
        )
        if has_input:
            statuses.append(422)
        if "requestBody" in operation:
            statuses.extend((400, 413, 415))  # not JSON or too deep; too large; not JSON
        if any(p["in"] == "path" for p in parameters):
            statuses.append(404)
        return statuses

    def _error_response(self, description: str) -> dict:
        component = self.resolve_serializer(_error_component(), "response")
        return {
            "description": description,
            "content": {"application/json": {"schema": component.ref}},
        }


class OptionalBodyAutoSchema(ProtocolAutoSchema):
    """For a view that answers without a body too (``schema = OptionalBodyAutoSchema()``):
    the body's schema holds when one is sent, but none is required."""

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body:
            body.pop("required", None)
        return body


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "frontend_api.v1.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": (
                "The API client's key (`manage.py create_api_client`). A missing, unknown or "
                "disabled key is a 403 with error_code 2. Trusted clients may also call the "
                "admin endpoints."
            ),
        }
