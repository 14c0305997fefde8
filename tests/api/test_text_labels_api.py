"""/api/v1/text_labels/: reviews with a task, reports without one, and the label catalogues."""

from __future__ import annotations

import uuid

import pytest

from backend.trees.growth_config import active_config
from backend.trees.models import FlaggedMessage, Message, MessageEmoji, Task, TextLabels
from tests.api.conftest import protocol_user
from tests.builders import add_reply, make_tree, make_user

pytestmark = pytest.mark.django_db

BOB = protocol_user("bob")
OA_REPORT_LABELS = [
    "spam",
    "not_appropriate",
    "pii",
    "hate_speech",
    "sexual_content",
    "moral_judgement",
    "political_content",
    "toxicity",
    "violence",
    "quality",
]


def labels_body(message_id, labels, **extra):
    return {
        "type": "text_labels",
        "user": BOB,
        "text": "",
        "labels": labels,
        "message_id": str(message_id),
        **extra,
    }


@pytest.fixture
def prompt(frontend):
    return make_tree(author=make_user(frontend.client_row))


def test_report_is_stored_without_counting_as_review(frontend, prompt):
    response = frontend.post("text_labels/", labels_body(prompt.id, {"quality": 0.8}))
    assert response.status_code == 204
    row = TextLabels.objects.get(message=prompt)
    assert row.labels == {"quality": 0.8} and row.task_id is None
    assert Message.objects.get(id=prompt.id).review_count == 0
    assert not FlaggedMessage.objects.exists()


def test_reporting_again_replaces_the_same_users_labels(frontend, prompt):
    frontend.post("text_labels/", labels_body(prompt.id, {"quality": 0.2}))
    frontend.post("text_labels/", labels_body(prompt.id, {"quality": 0.9}))
    assert list(TextLabels.objects.values_list("labels", flat=True)) == [{"quality": 0.9}]


def test_is_report_red_flags_and_queues_the_message(frontend, prompt):
    body = labels_body(prompt.id, {"spam": 1.0}, is_report=True, text="advert")
    assert frontend.post("text_labels/", body).status_code == 204
    assert FlaggedMessage.objects.get(message=prompt).processed is False
    assert MessageEmoji.objects.filter(message=prompt, emoji="red_flag").count() == 1
    assert Message.objects.get(id=prompt.id).emojis.get("red_flag") == 1


def test_red_flag_label_queues_the_message_without_an_emoji(frontend, prompt):
    assert frontend.post("text_labels/", labels_body(prompt.id, {"pii": 1.0})).status_code == 204
    assert FlaggedMessage.objects.filter(message=prompt).exists()
    assert not MessageEmoji.objects.filter(message=prompt).exists()


def test_unknown_label_is_refused_and_nothing_written(frontend, prompt):
    response = frontend.post("text_labels/", labels_body(prompt.id, {"funny_hat": 1.0}))
    assert response.status_code == 400
    assert response.json()["error_code"] == 2051
    assert not TextLabels.objects.exists()


def test_out_of_range_label_value_is_refused(frontend, prompt):
    response = frontend.post("text_labels/", labels_body(prompt.id, {"spam": 3.0}))
    assert response.status_code == 400
    assert not TextLabels.objects.exists()


def test_report_on_unknown_message_is_404(frontend):
    response = frontend.post("text_labels/", labels_body(uuid.uuid4(), {"spam": 0.0}))
    assert response.status_code == 404
    assert response.json()["error_code"] == 2001


def test_malformed_body_is_422(frontend):
    response = frontend.post("text_labels/", {"user": BOB, "labels": {}, "message_id": "x"})
    assert response.status_code == 422
    assert "message_id" in response.json()["errors"]


def test_labels_with_a_task_count_as_a_review(frontend):
    author = make_user(frontend.client_row)
    pending = make_tree(author=author, state="initial_prompt_review", review_result=None)
    task = frontend.post("tasks/", {"type": "label_initial_prompt", "user": BOB}).json()
    assert task["message_id"] == str(pending.id)
    frontend.post(f"tasks/{task['id']}/ack", {"message_id": "fm-label"})
    labels = dict.fromkeys(task["mandatory_labels"], 0.0)
    body = labels_body(pending.id, labels, task_id=task["id"])
    assert frontend.post("text_labels/", body).status_code == 204
    assert Message.objects.get(id=pending.id).review_count == 1
    assert TextLabels.objects.get(message=pending).task_id == uuid.UUID(task["id"])


def test_valid_labels_without_message_lists_all_but_fails_task(frontend):
    response = frontend.get("text_labels/valid_labels")
    assert response.status_code == 200
    labels = response.json()["valid_labels"]
    names = [label["name"] for label in labels]
    assert "fails_task" not in names and names[0] == "spam" and len(names) == 14
    assert set(labels[0]) == {"name", "widget", "display_text", "help_text"}


def test_valid_labels_follow_the_messages_role(frontend, prompt):
    reply = add_reply(prompt, author=make_user(frontend.client_row))
    config = active_config()
    for message, expected in (
        (prompt, config.labels_initial_prompt),
        (reply, config.labels_assistant_reply),
    ):
        body = frontend.get("text_labels/valid_labels", message_id=str(message.id)).json()
        assert [label["name"] for label in body["valid_labels"]] == list(expected)


def test_valid_labels_for_unknown_message_is_404(frontend):
    response = frontend.get("text_labels/valid_labels", message_id=str(uuid.uuid4()))
    assert response.status_code == 404
    assert response.json()["error_code"] == 2001


def test_report_labels_are_oas_list(frontend):
    response = frontend.get("text_labels/report_labels")
    assert response.status_code == 200
    assert [label["name"] for label in response.json()["valid_labels"]] == OA_REPORT_LABELS


# --- OA's label forms (client-compat F1) ------------------------------------------------------


def test_websites_report_with_an_empty_label_list_red_flags_the_message(frontend, prompt):
    body = labels_body(prompt.id, [], is_report=True, text="this is an advert")
    response = frontend.post("text_labels/", body)
    assert response.status_code == 204 and response.content == b""
    row = TextLabels.objects.get(message=prompt)
    assert row.labels == {} and row.text == "this is an advert"
    assert Message.objects.get(id=prompt.id).emojis.get("red_flag") == 1
    assert FlaggedMessage.objects.filter(message=prompt).exists()


def test_labels_as_a_list_of_name_and_value_are_stored_like_the_dict_form(frontend, prompt):
    labels = [{"name": "quality", "value": 0.75}, {"name": "spam", "value": 0}]
    assert frontend.post("text_labels/", labels_body(prompt.id, labels)).status_code == 204
    assert TextLabels.objects.get(message=prompt).labels == {"quality": 0.75, "spam": 0.0}


def test_a_label_named_twice_in_the_list_form_is_refused(frontend, prompt):
    labels = [{"name": "spam", "value": 0}, {"name": "spam", "value": 1}]
    response = frontend.post("text_labels/", labels_body(prompt.id, labels))
    assert response.status_code == 422
    assert "labels" in response.json()["errors"]
    assert not TextLabels.objects.exists()


def test_a_list_item_without_a_value_is_refused(frontend, prompt):
    response = frontend.post("text_labels/", labels_body(prompt.id, [{"name": "spam"}]))
    assert response.status_code == 422
    assert not TextLabels.objects.exists()


def test_interaction_accepts_the_list_form_too(frontend, prompt):
    body = labels_body(prompt.id, [{"name": "quality", "value": 0.5}])
    response = frontend.post("tasks/interaction", body)
    assert response.status_code == 200
    assert TextLabels.objects.get(message=prompt).labels == {"quality": 0.5}


# --- the text_labels interaction follows OA's store_text_labels (engine-bugs R8) -------------


def acked_label_task(frontend, user=BOB) -> tuple[dict, Message]:
    author = make_user(frontend.client_row)
    pending = make_tree(author=author, state="initial_prompt_review", review_result=None)
    task = frontend.post("tasks/", {"type": "label_initial_prompt", "user": user}).json()
    assert task["message_id"] == str(pending.id)
    frontend.post(f"tasks/{task['id']}/ack", {"message_id": "fm-label"})
    return task, pending


def test_interaction_with_a_task_id_is_that_tasks_review_even_if_is_report(frontend):
    task, pending = acked_label_task(frontend)
    labels = dict.fromkeys(task["mandatory_labels"], 1.0)
    body = labels_body(pending.id, labels, task_id=task["id"], is_report=True)
    response = frontend.post("tasks/interaction", body)
    assert response.status_code == 200
    assert response.json() == {"type": "task_done", "id": task["id"]}
    assert Task.objects.get(id=task["id"]).done is True
    assert Message.objects.get(id=pending.id).review_count == 1
    assert TextLabels.objects.get(message=pending).task_id == uuid.UUID(task["id"])


def test_free_labels_by_interaction_keep_one_row_per_user_and_message(frontend, prompt):
    for value in (0.1, 0.0, 0.9):
        body = labels_body(prompt.id, {"quality": value}, is_report=False)
        assert frontend.post("tasks/interaction", body).status_code == 200
    rows = TextLabels.objects.filter(message=prompt, task__isnull=True)
    assert [row.labels for row in rows] == [{"quality": 0.9}]


def test_report_by_interaction_red_flags_and_queues_the_message(frontend, prompt):
    body = labels_body(prompt.id, {"spam": 1.0}, is_report=True)
    assert frontend.post("tasks/interaction", body).status_code == 200
    assert Message.objects.get(id=prompt.id).emojis.get("red_flag") == 1
    assert FlaggedMessage.objects.filter(message=prompt, processed=False).exists()
