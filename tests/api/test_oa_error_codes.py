"""OA's status and error code where OA's clients read them (client-compat: "differences the
website turns into wrong messages"). Each test names OA's rule it pins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.accounts.models import User
from backend.trees.models import Message, Task
from tests.api.conftest import protocol_user
from tests.builders import make_tree, make_user

pytestmark = pytest.mark.django_db

ALICE = protocol_user("alice")
BOB = protocol_user("bob")


def assert_error(response, status: int, error_code: int) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["error_code"] == error_code


def acked_prompt_task(frontend, user=ALICE, frontend_message_id="fm-1") -> dict:
    task = frontend.post("tasks/", {"type": "initial_prompt", "user": user}).json()
    ack = frontend.post(f"tasks/{task['id']}/ack", {"message_id": frontend_message_id})
    assert ack.status_code == 204
    return task


def reply(frontend, text, *, frontend_message_id="fm-1", user_message_id="um-1", user=ALICE):
    body = {
        "type": "text_reply_to_message",
        "user": user,
        "message_id": frontend_message_id,
        "user_message_id": user_message_id,
        "text": text,
    }
    return frontend.post("tasks/interaction", body)


# --- text checks (OA prompt_repository.store_text_reply) ------------------------------------


def test_text_over_oas_2000_character_default_is_400_1008(frontend):
    acked_prompt_task(frontend)
    assert_error(reply(frontend, "x" * 2001), 400, 1008)
    assert Message.objects.count() == 0


def test_text_of_exactly_2000_characters_is_accepted(frontend):
    acked_prompt_task(frontend)
    assert reply(frontend, "x" * 2000).status_code == 200


def test_message_limit_is_a_setting(frontend, settings):
    settings.GROVE_MAX_MESSAGE_LENGTH = 10
    acked_prompt_task(frontend)
    assert_error(reply(frontend, "x" * 11), 400, 1008)


@pytest.mark.parametrize("text", ["   ", "\n\t ", ""], ids=["spaces", "newline-tab", "empty"])
def test_empty_or_whitespace_text_is_400_1010(frontend, text):
    task = acked_prompt_task(frontend)
    assert_error(reply(frontend, text), 400, 1010)
    assert Task.objects.get(id=task["id"]).done is False


def test_same_text_from_the_same_user_within_two_hours_is_400_1009(frontend):
    acked_prompt_task(frontend)
    assert reply(frontend, "Why is the sky blue?").status_code == 200
    acked_prompt_task(frontend, frontend_message_id="fm-2")
    response = reply(
        frontend, "Why is the sky blue?", frontend_message_id="fm-2", user_message_id="um-2"
    )
    assert_error(response, 400, 1009)
    assert Message.objects.count() == 1


def test_same_text_is_accepted_after_the_window_or_from_another_user(frontend):
    acked_prompt_task(frontend)
    assert reply(frontend, "Why is the sky blue?").status_code == 200
    Message.objects.update(created_at=timezone.now() - timedelta(minutes=121))
    acked_prompt_task(frontend, frontend_message_id="fm-2")
    later = reply(
        frontend, "Why is the sky blue?", frontend_message_id="fm-2", user_message_id="um-2"
    )
    assert later.status_code == 200
    acked_prompt_task(frontend, user=BOB, frontend_message_id="fm-3")
    other = reply(
        frontend,
        "Why is the sky blue?",
        frontend_message_id="fm-3",
        user_message_id="um-3",
        user=BOB,
    )
    assert other.status_code == 200


def test_resending_the_same_reply_is_still_idempotent_not_a_duplicate(frontend):
    acked_prompt_task(frontend)
    first = reply(frontend, "Why is the sky blue?")
    assert reply(frontend, "Why is the sky blue?").json() == first.json()


# --- tasks and users ------------------------------------------------------------------------


def test_another_users_task_is_400_2106(frontend):
    task = acked_prompt_task(frontend)
    make_user(frontend.client_row, username="bob")
    response = frontend.post(f"tasks/{task['id']}/nack", {"reason": "x"}, user="local:bob")
    assert_error(response, 400, 2106)
    assert_error(reply(frontend, "Hello there", user=BOB), 400, 2106)


def test_ack_naming_an_unknown_user_is_404_4002_and_creates_no_one(frontend):
    task = frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE}).json()
    response = frontend.post(f"tasks/{task['id']}/ack", {"message_id": "fm"}, user="local:ghost")
    assert_error(response, 404, 4002)
    assert not User.objects.filter(username="ghost").exists()
    assert Task.objects.get(id=task["id"]).ack is None


@pytest.mark.parametrize("kind", ["summarize_story", "rate_summary"])
def test_legacy_task_types_are_503_1006(frontend, kind):
    response = frontend.post("tasks/", {"type": kind, "user": ALICE})
    assert_error(response, 503, 1006)


# --- routes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/tasks", "/api/v1/text_labels"])
def test_post_without_the_trailing_slash_is_redirected_with_307(frontend, path):
    response = frontend.http.post(path, {}, format="json")
    assert response.status_code == 307
    assert response["Location"].endswith(path + "/")


def test_websites_report_without_trailing_slash_arrives_after_the_redirect(frontend):
    prompt = make_tree(author=make_user(frontend.client_row))
    body = {"type": "text_labels", "message_id": str(prompt.id), "labels": [], "text": "spam",
            "is_report": True, "user": BOB}  # fmt: skip
    response = frontend.http.post("/api/v1/text_labels", body, format="json", follow=True)
    assert response.status_code == 204
    assert Message.objects.get(id=prompt.id).emojis.get("red_flag") == 1


def test_report_labels_need_no_api_key(client):
    response = client.get("/api/v1/text_labels/report_labels")
    assert response.status_code == 200
    assert response.json()["valid_labels"][0]["name"] == "spam"


def test_ack_naming_a_disabled_user_is_403_4001_and_acks_nothing(frontend):
    task = frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE}).json()
    User.objects.filter(username=ALICE["id"]).update(enabled=False)
    response = frontend.post(f"tasks/{task['id']}/ack", {"message_id": "fm"}, user="local:alice")
    assert_error(response, 403, 4001)
    assert Task.objects.get(id=task["id"]).ack is None


def test_ack_naming_another_existing_user_is_400_2106_and_acks_nothing(frontend):
    task = frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE}).json()
    make_user(frontend.client_row, username="bob")
    response = frontend.post(f"tasks/{task['id']}/ack", {"message_id": "fm"}, user="local:bob")
    assert_error(response, 400, 2106)
    assert Task.objects.get(id=task["id"]).ack is None


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL's one statement")
def test_ack_naming_its_user_is_one_statement(frontend):
    """The named user is found inside the ack's statement (it was a lookup of its own first:
    a statement more on every ack a socket sends, as the SDK names the user)."""
    task = frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE}).json()
    with CaptureQueriesContext(connection) as sent:
        response = frontend.post(
            f"tasks/{task['id']}/ack", {"message_id": "fm"}, user="local:alice"
        )
    assert response.status_code == 204
    assert len(sent.captured_queries) == 1, [q["sql"][:80] for q in sent.captured_queries]
    assert Task.objects.get(id=task["id"]).ack is True
