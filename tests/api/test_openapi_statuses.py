"""Every status a v1 operation answers in the API tests is declared in the OpenAPI document.

The API tests (tests/api) record each response's status per operation
(``observed_statuses``); this check runs after them (``conftest`` orders it last). Run alone,
it first makes a few representative calls of its own, so it never compares nothing.
"""

from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import Frontend, protocol_user
from tests.api.observed_statuses import OBSERVED

pytestmark = pytest.mark.django_db


def representative_calls(frontend: Frontend) -> None:
    user = protocol_user("ada")
    frontend.post("tasks/", {"type": "initial_prompt", "user": user})  # 200
    frontend.post("tasks/", {"type": "no_such_kind", "user": user})  # 400
    frontend.post("tasks/", {"type": "random", "user": "not an object"})  # 422
    frontend.post(f"tasks/{uuid.uuid4()}/ack", {"message_id": "m-1"}, user="local:ada")  # 404
    frontend.post("tasks/interaction", {"type": "text_reply_to_message", "user": user})  # 422
    anonymous = Frontend()
    anonymous.http.credentials()
    anonymous.post("tasks/", {"type": "random", "user": user})  # 403


def test_every_status_observed_in_the_api_tests_is_declared(client, make_frontend):
    representative_calls(make_frontend())
    document = client.get("/api/v1/openapi.json").json()
    undeclared = []
    for (path, method, status), test in sorted(OBSERVED.items()):
        operation = document["paths"].get(path, {}).get(method)
        if operation is None:
            undeclared.append(f"{method.upper()} {path}: not in the document ({test})")
        elif str(status) not in operation["responses"]:
            undeclared.append(f"{method.upper()} {path} answered {status}, undeclared ({test})")
    assert not undeclared, "\n".join(undeclared)
