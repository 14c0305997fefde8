"""schemathesis over the whole v1 OpenAPI document with every check it has: generated requests
(valid and invalid) to every operation, each answer checked for a 5xx and against the document
(status declared, content type, body matching its schema, headers), schema-valid requests
accepted and schema-violating ones refused, required headers, unsupported methods and their
``Allow``, authentication ignored or not, resources after deletion. One test per operation, a
few examples each so the run stays short; ``SCHEMATHESIS_EXAMPLES`` asks for more.

The document states the rules the views apply (non-blank strings, enums of path parameters,
the X-OASST-USER format, each setting's type and range). What OpenAPI 3.0 cannot state is
listed in ``UNSTATABLE``: one check off for one operation, with the reason. Two checks are
narrowed for every operation, each for one stated reason: a declared 501/503 protocol answer
is not a server error, and an unknown header is not data to refuse."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.checks import load_all_checks, not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from backend.wsgi import application
from tests.api.conftest import Frontend

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "4"))


def no_server_error_but_a_declared_answer(ctx, response, case):
    """A 5xx fails, except a declared protocol answer: the 501 of the OA endpoints Grove does
    not implement, OA's 503 "no task available" (code 1006). A 5xx in OA's shape with
    error_code 500 (a fault, the database unreachable) still fails."""
    declared = str(response.status_code) in case.operation.definition.raw["responses"]
    if response.status_code in (501, 503) and declared and _error_code(response) != 500:
        return None
    return not_a_server_error(ctx, response, case)


def _error_code(response) -> int | None:
    try:
        return response.json().get("error_code")
    except (ValueError, AttributeError):
        return None


def negative_data_rejected_unknown_headers_ignored(ctx, response, case):
    """Schema-violating data must be refused, but an unknown header is not data: HTTP
    recipients ignore header fields they do not recognise (RFC 9110, 5.1)."""
    meta = case.meta
    negative = [
        loc for loc, part in (meta.components.items() if meta else ()) if part.mode.is_negative
    ]
    description = getattr(meta.phase.data, "description", "") if meta else ""
    if negative == [ParameterLocation.HEADER] and "unexpected properties" in (description or ""):
        return None
    return negative_data_rejection(ctx, response, case)


load_all_checks()
REPLACED = {
    not_a_server_error: no_server_error_but_a_declared_answer,
    negative_data_rejection: negative_data_rejected_unknown_headers_ignored,
}
CHECKS = [REPLACED.get(check, check) for check in REGISTERED_CHECKS.get_all()]

_CURSOR = (
    "a cursor is `<message id>$<ISO 8601 date-time>` or a date-time as Python reads it: no "
    "pattern states calendar validity (days per month, leap years), so a string matching any "
    "honest pattern may be no date (400, code 101)"
)
_KEYSET = (
    "a keyset bound (gt_id, lt_id) needs its name bound (gte_/lte_...): OpenAPI 3.0 cannot "
    "make one query parameter depend on another"
)
# (method, path) -> {check: why it cannot hold there}. Every other pair runs every check.
UNSTATABLE = {
    ("GET", "/api/v1/messages/cursor"): {positive_data_acceptance: _CURSOR},
    ("GET", "/api/v1/admin/flagged_messages/cursor"): {positive_data_acceptance: _CURSOR},
    ("GET", "/api/v1/frontend_users/{auth_method}/{username}/messages/cursor"): {
        positive_data_acceptance: _CURSOR
    },
    ("GET", "/api/v1/frontend_users/"): {positive_data_acceptance: _KEYSET},
    ("GET", "/api/v1/users/by_username"): {positive_data_acceptance: _KEYSET},
    ("GET", "/api/v1/users/by_display_name"): {positive_data_acceptance: _KEYSET},
    ("GET", "/api/v1/messages/"): {
        positive_data_acceptance: "auth_method and username filter together or not at all "
        "(OA's 400, code 2012): a dependency between query parameters"
    },
    ("PUT", "/api/v1/admin/tree_growth_config"): {
        positive_data_acceptance: "the settings' cross-field rules (a minimum not above its "
        "maximum, mandatory labels among the labels) are not expressible in a schema; each "
        "setting's type and range is stated"
    },
    ("PATCH", "/api/v1/admin/tree_growth_config"): {
        positive_data_acceptance: "as PUT: cross-field rules between settings"
    },
    ("POST", "/api/v1/text_labels/"): {
        positive_data_acceptance: "each label name at most once in `labels`: uniqueItems "
        "compares whole items, not one property of them"
    },
    ("POST", "/api/v1/tasks/"): {
        positive_data_acceptance: "a valid request is OA's 400 (code 1012) once the user holds "
        "max_pending_tasks_per_user open tasks: a state of the server, not of the request"
    },
    ("GET", "/api/v1/stats/cached/{name}"): {
        positive_data_acceptance: "a valid name is OA's 400 (code 6000) until its document is "
        "first computed: a state of the server, not of the request"
    },
    ("POST", "/api/v1/messages/{message_id}/edit"): {
        positive_data_acceptance: "a text of only whitespace and Unicode format characters "
        "(category Cf) is empty (400, code 1010): not expressible in an OpenAPI pattern"
    },
}

# The document /api/v1/openapi.json serves, built without a request (and so at collection).
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = application


@pytest.fixture
def trusted_key(db):
    """A trusted client's key; requests keep the test's connection, as Django's test client
    does (no connection is closed at the end of a request)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield Frontend(trusted=True).key
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented_and_never_5xx(case, trusted_key):
    off = UNSTATABLE.get((case.operation.method.upper(), case.operation.path), {})
    checks = [check for check in CHECKS if check not in off]
    # The key goes with every case but those that leave it out on purpose (negative ones).
    negated = case.operation.schema.is_security_param_negated(case)
    case.call_and_validate(headers={} if negated else {"X-API-Key": trusted_key}, checks=checks)
