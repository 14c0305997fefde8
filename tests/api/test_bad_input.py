"""Bad input is a 4xx in OA's shape, never a 500, and a refused request writes nothing
(reliability findings 9 and 12)."""

from __future__ import annotations

import json

import pytest

from backend.accounts.models import User
from tests.api.conftest import protocol_user

pytestmark = pytest.mark.django_db

ADA = protocol_user("ada")
MISSING_TASK = "00000000-0000-0000-0000-000000000000"


def post_raw(frontend, path: str, raw: str, **headers):
    return frontend.http.post(f"/api/v1/{path}", raw, content_type="application/json", **headers)


def assert_error(response, status: int, error_code: int) -> None:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) >= {"message", "error_code"} and body["error_code"] == error_code, body


def test_a_body_over_the_size_limit_is_answered_413(frontend, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"type": "random", "user": ADA, "lang": "en" + " " * 20_000})
    assert_error(post_raw(frontend, "tasks/", body), 413, 0)


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_json_nested_past_the_limit_is_answered_400(frontend, depth):
    assert_error(post_raw(frontend, "tasks/", "[" * depth + "]" * depth), 400, 0)


def test_json_nested_within_the_limit_is_parsed(frontend):
    body = {"type": "random", "user": ADA, "extra": json.loads("[" * 30 + "]" * 30)}
    assert frontend.post("tasks/", body).status_code != 400


def test_a_header_username_longer_than_stored_names_is_400_and_writes_nothing(frontend):
    response = frontend.post(
        f"tasks/{MISSING_TASK}/ack", {"message_id": "m1"}, user="local:" + "a" * 129
    )
    assert_error(response, 400, 2012)
    assert not User.objects.exists()


def test_a_ranking_of_numeric_strings_is_a_type_error(frontend):
    body = {"type": "message_ranking", "user": ADA, "message_id": "m1", "ranking": ["0", "1"]}
    response = frontend.post("tasks/interaction", body)
    assert_error(response, 422, 0)
    assert "ranking" in response.json()["errors"]
    assert not User.objects.exists()


@pytest.mark.parametrize("value", [True, "1.0"])
def test_a_label_value_that_is_not_a_number_is_a_type_error(frontend, value):
    body = {
        "type": "text_labels",
        "user": ADA,
        "message_id": MISSING_TASK,
        "labels": {"spam": value},
        "text": "",
    }
    response = frontend.post("text_labels/", body)
    assert_error(response, 422, 0)
    assert "labels" in response.json()["errors"]
    assert not User.objects.exists()


def test_an_answer_to_an_unknown_task_creates_no_user(frontend):
    body = {
        "type": "text_reply_to_message",
        "user": ADA,
        "message_id": "never-acked",
        "user_message_id": "u1",
        "text": "hello",
    }
    assert_error(frontend.post("tasks/interaction", body), 404, 2100)
    assert not User.objects.exists()


def acked_prompt_task(frontend, user: dict) -> str:
    task = frontend.post("tasks/", {"type": "initial_prompt", "user": user}).json()
    frontend_id = f"fm-{task['id']}"
    assert frontend.post(f"tasks/{task['id']}/ack", {"message_id": frontend_id}).status_code == 204
    return frontend_id


def test_an_answer_by_a_stranger_to_another_users_task_creates_no_user(frontend):
    frontend_id = acked_prompt_task(frontend, ADA)
    body = {
        "type": "text_reply_to_message",
        "user": protocol_user("stranger"),
        "message_id": frontend_id,
        "user_message_id": "u1",
        "text": "hello",
    }
    assert_error(frontend.post("tasks/interaction", body), 400, 2106)
    assert list(User.objects.values_list("username", flat=True)) == ["ada"]


@pytest.mark.parametrize("text", ["\u200b\u200b", " \u2060\ufeff \u200d\n", "\u00ad"])
def test_a_text_of_invisible_characters_only_is_empty(frontend, text):
    body = {
        "type": "text_reply_to_message",
        "user": ADA,
        "message_id": acked_prompt_task(frontend, ADA),
        "user_message_id": "u1",
        "text": text,
    }
    assert_error(frontend.post("tasks/interaction", body), 400, 1010)


def test_labels_that_are_neither_a_map_nor_a_list_are_a_type_error(frontend):
    """Found by schemathesis: the field's message had unescaped braces (a 500)."""
    body = {"type": "text_labels", "user": ADA, "message_id": MISSING_TASK, "labels": "AAA"}
    response = frontend.post("text_labels/", body)
    assert_error(response, 422, 0)
    assert "labels" in response.json()["errors"]


@pytest.mark.parametrize("door", ["text_labels/", "tasks/interaction"])
def test_a_review_by_a_user_never_named_creates_no_user(frontend, door):
    task_id = frontend.post("tasks/", {"type": "initial_prompt", "user": ADA}).json()["id"]
    body = {
        "type": "text_labels",
        "user": protocol_user("stranger"),
        "message_id": MISSING_TASK,
        "task_id": task_id,
        "labels": {"spam": 0.0},
        "text": "",
    }
    assert_error(frontend.post(door, body), 400, 2106)
    assert list(User.objects.values_list("username", flat=True)) == ["ada"]


# A request refused later, in the service, rolls back the user it named for the first time
# (issue 10: "no user row created by a request that is then rejected").


def test_a_task_request_with_no_task_available_creates_no_user(frontend):
    response = frontend.post("tasks/", {"type": "rank_assistant_replies", "user": ADA})
    assert_error(response, 503, 1006)
    assert not User.objects.exists()


def test_an_emoji_on_a_missing_message_creates_no_user(frontend):
    body = {"user": ADA, "emoji": "+1", "op": "add"}
    assert frontend.post(f"messages/{MISSING_TASK}/emoji", body).status_code == 404
    assert not User.objects.exists()


def test_a_report_on_a_missing_message_creates_no_user(frontend):
    body = {"type": "text_labels", "user": ADA, "message_id": MISSING_TASK}
    body |= {"labels": {"spam": 1.0}, "text": "", "is_report": True}
    assert frontend.post("text_labels/", body).status_code == 404
    assert not User.objects.exists()


def test_a_refused_request_keeps_a_user_who_already_existed(frontend):
    assert frontend.post("tasks/", {"type": "initial_prompt", "user": ADA}).status_code == 200
    response = frontend.post("tasks/", {"type": "rank_assistant_replies", "user": ADA})
    assert_error(response, 503, 1006)
    assert list(User.objects.values_list("username", flat=True)) == ["ada"]


def test_a_task_request_that_succeeds_creates_its_user(frontend):
    assert frontend.post("tasks/", {"type": "initial_prompt", "user": ADA}).status_code == 200
    assert list(User.objects.values_list("username", flat=True)) == ["ada"]
