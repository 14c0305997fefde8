"""schemathesis over the whole v1 OpenAPI document: generated requests (valid and invalid) to
every operation, each answer checked for a 5xx and against the document (status declared,
content type, body matching its schema, headers). One test per operation, a few examples
each so the run stays short; ``SCHEMATHESIS_EXAMPLES`` asks for more.

Not checked (yet): whether schema-valid requests are accepted and schema-violating ones
refused (schemathesis' positive/negative data checks): the document does not state every
rule a view applies (cursor formats, non-blank strings), so those checks report the
document's vagueness rather than a fault of the API."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.wsgi import application
from tests.api.conftest import Frontend

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "4"))


def no_server_error_but_a_declared_501(ctx, response, case):
    """A 5xx fails, except the 501 of the OA endpoints Grove does not implement (declared)."""
    if response.status_code == 501 and "501" in case.operation.definition.raw["responses"]:
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    no_server_error_but_a_declared_501,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

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
    case.call_and_validate(headers={"X-API-Key": trusted_key}, checks=CHECKS)
