"""Dispatch findings seen on the wire (engine-bugs.md R3): OA's codes and statuses."""

from __future__ import annotations

import pytest

from backend.trees.growth_config import update_config
from backend.trees.models import Task
from tests.api.conftest import protocol_user

pytestmark = pytest.mark.django_db

ALICE = protocol_user("alice")

# OA oasst_shared/exceptions/oasst_api_error.py: TASK_TOO_MANY_PENDING = 1012, raised by
# tree_manager.next_task as OasstError(...) with the default HTTPStatus.BAD_REQUEST.
TASK_TOO_MANY_PENDING = 1012


def test_request_over_the_pending_task_cap_is_400_task_too_many_pending(frontend):
    update_config(changes={"max_pending_tasks_per_user": 1}, author="test")
    first = frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE})
    assert first.status_code == 200

    response = frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE})

    assert response.status_code == 400, response.json()
    assert response.json()["error_code"] == TASK_TOO_MANY_PENDING
    assert Task.objects.count() == 1
