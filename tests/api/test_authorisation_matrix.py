"""Who may call what: every v1 operation of the OpenAPI document, times every kind of caller.

Callers: no key, an unknown key, a disabled client, an untrusted client, a trusted client,
and another (untrusted) client naming the first client's users, tasks and frontend ids. The
operations come from the document, so a new endpoint is in the matrix the day it is added;
``TRUSTED_ONLY`` is the policy, written out: an operation missing from the document or a
trusted-only one answering an untrusted client fails the test.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from backend.trees.core.policy import TaskKind
from backend.trees.services.task_lifecycle import ack_task
from backend.trees.services.tasks import request_task
from tests.api.conftest import Frontend
from tests.builders import make_tree, make_user

pytestmark = pytest.mark.django_db

TRUSTED_ONLY = {
    ("DELETE", "/api/v1/frontend_users/{auth_method}/{username}/messages"),
    ("DELETE", "/api/v1/messages/{message_id}"),
    ("DELETE", "/api/v1/users/{user_id}"),
    ("DELETE", "/api/v1/users/{user_id}/messages"),
    ("GET", "/api/v1/admin/backend_settings/full"),
    ("GET", "/api/v1/admin/flagged_messages"),
    ("GET", "/api/v1/admin/flagged_messages/cursor"),
    ("GET", "/api/v1/admin/tree_growth_config"),
    ("GET", "/api/v1/stats/"),
    ("GET", "/api/v1/stats/tree_manager"),
    ("GET", "/api/v1/stats/tree_manager/message_counts"),
    ("GET", "/api/v1/stats/tree_manager/state_counts"),
    ("GET", "/api/v1/trollboards/{time_frame}"),
    ("PATCH", "/api/v1/admin/tree_growth_config"),
    ("POST", "/api/v1/admin/api_client"),
    ("POST", "/api/v1/admin/flagged_messages/{message_id}/processed"),
    ("POST", "/api/v1/admin/merge_users"),
    ("POST", "/api/v1/admin/purge_user/{user_id}"),
    ("POST", "/api/v1/admin/purge_user/{user_id}/messages"),
    ("POST", "/api/v1/admin/tree_growth_config/rollback"),
    ("POST", "/api/v1/admin/trees/{tree_id}/halt"),
    ("POST", "/api/v1/admin/trees/{tree_id}/resume"),
    ("POST", "/api/v1/leaderboards/update"),
    ("POST", "/api/v1/leaderboards/update/{time_frame}"),
    ("POST", "/api/v1/messages/{message_id}/edit"),
    ("POST", "/api/v1/stats/cached/update"),
    ("PUT", "/api/v1/admin/tree_growth_config"),
    ("PUT", "/api/v1/messages/{message_id}/tree/state"),
    ("PUT", "/api/v1/messages/{message_id}/undelete"),
    ("PUT", "/api/v1/users/{user_id}"),
}
# Operations that answer without an API key.
PUBLIC = {("GET", "/api/v1/text_labels/report_labels")}
# Operations whose path names something one client owns: another client gets 403 or 404.
PER_CLIENT = re.compile(r"\{(user_id|task_id|frontend_message_id|username)\}")


def operations(client: Client) -> list[tuple[str, str]]:
    document = client.get("/api/v1/openapi.json").json()
    return sorted(
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    )


@pytest.fixture
def world(db):
    """Client A (untrusted) with a user, a tree and an acked task; B (untrusted); T (trusted)."""
    a, b, trusted = Frontend(), Frontend(), Frontend(trusted=True)
    ada = make_user(a.client_row, username="ada")
    prompt = make_tree(author=ada)
    task = request_task(user=ada, kind=TaskKind.INITIAL_PROMPT, lang="en")
    ack_task(task_id=task.id, frontend_message_id="a-task-1", user=ada, api_client=a.client_row)
    values = {
        "message_id": prompt.id,
        "tree_id": prompt.message_tree_id,
        "user_id": ada.id,
        "task_id": task.id,
        "frontend_message_id": prompt.frontend_message_id,
        "auth_method": "local",
        "username": "ada",
        "time_frame": "day",
        "name": "human_messages_by_lang",
    }
    return {"a": a, "b": b, "trusted": trusted, "values": values}


def url(path: str, values: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


# Bodies that get a request past validation to the point where it looks its target up.
BODIES = {
    ("POST", "/api/v1/tasks/{task_id}/ack"): {"message_id": "b-task-1"},
    ("POST", "/api/v1/tasks/{task_id}/nack"): {"reason": "skip"},
}


def call(http, method: str, path: str, values: dict):
    body = BODIES.get((method, path), {})
    return getattr(http, method.lower())(url(path, values), body, content_type="application/json")


def is_refused(response) -> bool:
    """403 with OA's API_CLIENT_NOT_AUTHORIZED (2)."""
    return response.status_code == 403 and response.json().get("error_code") == 2


def keyed(client: Client) -> list[tuple[str, str]]:
    return [operation for operation in operations(client) if operation not in PUBLIC]


@pytest.mark.parametrize("caller", ["no key", "unknown key", "disabled client"])
def test_without_a_valid_key_every_keyed_operation_is_refused(client, world, caller):
    http = Client()
    if caller == "unknown key":
        http = Client(headers={"X-API-Key": "k" * 43})
    elif caller == "disabled client":
        world["a"].client_row.enabled = False
        world["a"].client_row.save()
        http = world["a"].http
    answered = [
        (method, path, response.status_code)
        for method, path in keyed(client)
        if not is_refused(response := call(http, method, path, world["values"]))
    ]
    assert not answered


def test_an_untrusted_client_is_refused_exactly_the_trusted_only_operations(client, world):
    refused, failed = set(), []
    for method, path in keyed(client):
        response = call(world["a"].http, method, path, world["values"])
        if is_refused(response):
            refused.add((method, path))
        if response.status_code >= 500 and response.status_code != 501:
            failed.append((method, path, response.status_code))
    assert refused == TRUSTED_ONLY
    assert not failed


def test_a_trusted_client_is_refused_nothing(client, world):
    refused = [
        (method, path, response.status_code)
        for method, path in keyed(client)
        if is_refused(response := call(world["trusted"].http, method, path, world["values"]))
        or (response.status_code >= 500 and response.status_code != 501)
    ]
    assert not refused


def test_another_client_never_reaches_a_clients_users_tasks_or_frontend_ids(client, world):
    """403 or 404; or, where an unknown name has nothing (a user's message list), an answer
    that holds none of the other client's user or task ids."""
    values = world["values"]
    secrets = [str(values["user_id"]).encode(), str(values["task_id"]).encode()]
    reached = []
    for method, path in keyed(client):
        if not PER_CLIENT.search(path):
            continue
        response = call(world["b"].http, method, path, values)
        if response.status_code in (403, 404):
            continue
        if response.status_code >= 300 or any(s in response.content for s in secrets):
            reached.append((method, path, response.status_code))
    assert not reached


def test_every_trusted_only_operation_is_in_the_document(client):
    assert set(operations(client)) >= TRUSTED_ONLY
