"""Bad input over HTTP: each is a 4xx in OA's error shape with the right error code, never a
500, and writes nothing (no message, label, ranking; the task stays open). The last tests
are regressions for 500s found by fuzzing the API (schemathesis and by hand)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.accounts.models import User
from backend.trees.growth_config import update_config
from backend.trees.models import Message, MessageReaction, MessageRevision, Task, TextLabels
from backend.trees.services.trees import advance_tree, halt_tree
from tests.api.conftest import protocol_user
from tests.builders import GOOD_REVIEW, add_reply, make_tree, make_user, review

pytestmark = pytest.mark.django_db

ALICE = protocol_user("alice")
BOB = protocol_user("bob")


def assert_error(response, status: int, error_code: int) -> None:
    assert response.status_code == status, response.json()
    assert set(response.json()) >= {"message", "error_code"}
    assert response.json()["error_code"] == error_code


def acked(frontend, kind: str, user=ALICE, frontend_message_id: str = "fm-1") -> dict:
    task = frontend.post("tasks/", {"type": kind, "user": user}).json()
    assert "id" in task, task
    ack = frontend.post(f"tasks/{task['id']}/ack", {"message_id": frontend_message_id})
    assert ack.status_code == 204
    return task


def reply_body(text: str = "Why is the sky blue?", user_message_id: str = "um-1") -> dict:
    return {
        "type": "text_reply_to_message",
        "user": ALICE,
        "message_id": "fm-1",
        "user_message_id": user_message_id,
        "text": text,
    }


def labels_body(task: dict, labels: dict, user=ALICE) -> dict:
    return {
        "type": "text_labels",
        "user": user,
        "message_id": task["message_id"],
        "task_id": task["id"],
        "text": "",
        "labels": labels,
    }


def ranking_body(ranking: list) -> dict:
    return {"type": "message_ranking", "user": ALICE, "message_id": "fm-1", "ranking": ranking}


def prompt_to_label(frontend):
    """A prompt by someone else in ``frontend``'s client, waiting for its review."""
    author = make_user(frontend.client_row, username="author")
    prompt = make_tree(author=author, state="initial_prompt_review", review_result=None)
    return prompt


def tree_to_rank(frontend, replies: int = 3):
    author = make_user(frontend.client_row, username="author")
    prompt = make_tree(author=author, state="ranking")
    for _ in range(replies):
        add_reply(prompt, author=author, review_result=True)
    return prompt


def test_reply_to_an_expired_task_is_400_task_expired_and_writes_nothing(frontend):
    task = acked(frontend, "initial_prompt")
    Task.objects.filter(id=task["id"]).update(expiry_date=timezone.now() - timedelta(seconds=1))
    response = frontend.post("tasks/interaction", reply_body())
    assert_error(response, 400, 2101)
    assert Message.objects.count() == 0
    assert Task.objects.get(id=task["id"]).done is False


def test_reply_to_an_already_done_task_is_400_already_done_and_writes_nothing(frontend):
    acked(frontend, "initial_prompt")
    assert frontend.post("tasks/interaction", reply_body()).status_code == 200
    # A second, different reply (not a resend of the first) on the same task.
    response = frontend.post("tasks/interaction", reply_body("Another?", user_message_id="um-2"))
    assert_error(response, 400, 2105)
    assert list(Message.objects.values_list("frontend_message_id", flat=True)) == ["um-1"]


def test_ranking_on_an_already_done_task_is_400_and_adds_no_ranking(frontend):
    tree_to_rank(frontend)
    acked(frontend, "rank_assistant_replies")
    assert frontend.post("tasks/interaction", ranking_body([2, 0, 1])).status_code == 200
    response = frontend.post("tasks/interaction", ranking_body([0, 1, 2]))
    assert_error(response, 400, 2105)
    assert MessageReaction.objects.count() == 1


def test_labels_on_an_expired_task_are_400_task_expired_and_write_nothing(frontend):
    prompt_to_label(frontend)
    task = acked(frontend, "label_initial_prompt")
    Task.objects.filter(id=task["id"]).update(expiry_date=timezone.now() - timedelta(seconds=1))
    response = frontend.post("tasks/interaction", labels_body(task, {"spam": 0.0}))
    assert_error(response, 400, 2101)
    assert TextLabels.objects.count() == 0


@pytest.mark.parametrize(
    "labels",
    [{"funny_hat": 1.0}, {"spam": 0.0, "lang_mismatch": 0.0, "quality": 0.5, "bogus": 1.0}],
    ids=["only-unknown", "unknown-among-valid"],
)
def test_unknown_label_in_a_text_labels_interaction_is_400_and_writes_nothing(frontend, labels):
    prompt = prompt_to_label(frontend)
    task = acked(frontend, "label_initial_prompt")
    response = frontend.post("tasks/interaction", labels_body(task, labels))
    assert_error(response, 400, 2051)
    assert TextLabels.objects.count() == 0
    assert Message.objects.get(id=prompt.id).review_count == 0
    assert Task.objects.get(id=task["id"]).done is False


def test_missing_mandatory_label_is_400_mandatory_label_missing(frontend):
    prompt_to_label(frontend)
    task = acked(frontend, "label_initial_prompt")
    assert task["mandatory_labels"], task
    response = frontend.post("tasks/interaction", labels_body(task, {}))
    assert_error(response, 400, 2052)
    assert TextLabels.objects.count() == 0


def test_labels_for_another_users_task_are_400_and_write_nothing(frontend):
    prompt = prompt_to_label(frontend)
    task = acked(frontend, "label_initial_prompt", user=ALICE)
    response = frontend.post("tasks/interaction", labels_body(task, {"spam": 0.0}, user=BOB))
    assert_error(response, 400, 2106)
    assert TextLabels.objects.count() == 0
    assert Message.objects.get(id=prompt.id).review_count == 0


def test_labels_for_another_clients_task_are_404_and_write_nothing(frontend, make_frontend):
    prompt_to_label(frontend)
    task = acked(frontend, "label_initial_prompt")
    other = make_frontend()
    response = other.post("tasks/interaction", labels_body(task, {"spam": 0.0}))
    assert_error(response, 404, 2100)
    assert TextLabels.objects.count() == 0


@pytest.mark.parametrize(
    "ranking",
    [[0, 1], [0, 1, 1], [0, 1, 3], [2, 1, 0, 3], [-1, 0, 1]],
    ids=["too-few", "repeated", "out-of-range", "too-many", "negative"],
)
def test_ranking_not_a_permutation_of_the_offered_replies_is_400(frontend, ranking):
    prompt = tree_to_rank(frontend)
    task = acked(frontend, "rank_assistant_replies")
    assert len(task["reply_messages"]) == 3
    response = frontend.post("tasks/interaction", ranking_body(ranking))
    assert_error(response, 400, 2003)
    assert MessageReaction.objects.count() == 0
    assert not Message.objects.filter(parent_id=prompt.id, ranking_count__gt=0).exists()
    assert Task.objects.get(id=task["id"]).done is False


def test_ranking_with_wrong_item_types_is_422_and_writes_nothing(frontend):
    tree_to_rank(frontend)
    acked(frontend, "rank_assistant_replies")
    response = frontend.post("tasks/interaction", ranking_body(["first", "second", "third"]))
    assert_error(response, 422, 0)
    assert "ranking" in response.json()["errors"]
    assert MessageReaction.objects.count() == 0


def test_ranking_sent_as_a_reply_is_400_payload_type_mismatch(frontend):
    tree_to_rank(frontend)
    task = acked(frontend, "rank_assistant_replies")
    response = frontend.post("tasks/interaction", reply_body())
    assert_error(response, 400, 2102)
    assert Message.objects.filter(frontend_message_id="um-1").count() == 0
    assert Task.objects.get(id=task["id"]).done is False


def test_interaction_for_an_unbound_frontend_message_is_404_task_not_found(frontend):
    response = frontend.post("tasks/interaction", reply_body())
    assert_error(response, 404, 2100)
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    "username", ["has space", "tab\there", "x" * 128], ids=["space", "control", "longest"]
)
def test_any_username_in_the_user_header_is_served_not_a_500(frontend, username):
    """The per-user throttle keys its cache entry on the user; a name with spaces, control
    characters or the longest name stored (128) must not make an invalid cache key (a warning,
    an error under memcached). Longer names are a 400 (test_bad_input.py)."""
    response = frontend.get("messages/", user=f"local:{username}")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "frontend_messages/a%00b",
        "frontend_messages/a%00b/conversation",
        "frontend_users/local/a%00b",
        "frontend_users/local/a%00b/messages",
        "frontend_users/lo%00cal/alice/messages/cursor",
    ],
)
def test_nul_character_in_a_text_path_segment_is_422_not_a_500(frontend, path):
    response = frontend.get(path)
    assert_error(response, 422, 0)
    assert "Null characters" in response.json()["message"]


def test_nul_character_in_a_frontend_user_to_delete_is_422_and_deletes_nothing(
    trusted_frontend,
):
    author = make_user(trusted_frontend.client_row, username="alice")
    prompt = make_tree(author=author)
    response = trusted_frontend.delete("frontend_users/local/al%00ice/messages")
    assert_error(response, 422, 0)
    assert Message.objects.get(id=prompt.id).deleted is False


def test_availability_with_nul_in_lang_is_422_not_a_500(frontend):
    response = frontend.post("tasks/availability", ALICE, lang="e\x00n")
    assert_error(response, 422, 0)
    assert "lang" in response.json()["errors"]


@pytest.mark.parametrize("setting", ["goal_tree_size", "recent_tasks_span_sec"])
def test_tree_growth_setting_beyond_a_database_integer_is_422_and_not_stored(
    trusted_frontend, setting
):
    """Accepted before, it broke every later task request (a timedelta overflow) or reply
    (an integer column overflow) with a 500."""
    before = trusted_frontend.get("admin/tree_growth_config").json()
    response = trusted_frontend.http.patch(
        "/api/v1/admin/tree_growth_config", {"values": {setting: 2**31}}, format="json"
    )
    assert_error(response, 422, 0)
    assert setting in response.json()["errors"]
    assert trusted_frontend.get("admin/tree_growth_config").json() == before
    task = trusted_frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE})
    assert task.status_code == 200


def test_edit_longer_than_the_message_limit_is_400_and_changes_nothing(trusted_frontend, settings):
    settings.GROVE_MAX_MESSAGE_LENGTH = 20
    prompt = make_tree(author=make_user(trusted_frontend.client_row, username="alice"))
    body = {"user": protocol_user("mod"), "new_content": "x" * 21}
    response = trusted_frontend.post(f"messages/{prompt.id}/edit", body)
    assert_error(response, 400, 1008)
    assert Message.objects.get(id=prompt.id).edited is False
    assert MessageRevision.objects.count() == 0


def test_not_rankable_flag_is_kept_with_the_ranking(frontend):
    from backend.accounts.services import ensure_user
    from backend.trees.models import MessageReaction
    from tests.builders import add_reply, make_tree, make_user

    client = frontend.client_row
    prompt = make_tree(author=make_user(client), state="ranking")
    for _ in range(2):
        add_reply(prompt, author=make_user(client), review_result=True)
    ensure_user(api_client=client, auth_method="local", username="ranker")
    ranker = {"id": "ranker", "display_name": "Ranker", "auth_method": "local"}
    task = frontend.post(
        "tasks/", {"type": "rank_assistant_replies", "user": ranker, "lang": "en"}
    ).json()
    frontend.post(f"tasks/{task['id']}/ack", {"message_id": "fm-nr"})
    response = frontend.post(
        "tasks/interaction",
        {
            "type": "message_ranking",
            "user": ranker,
            "message_id": "fm-nr",
            "ranking": [1, 0],
            "not_rankable": True,
        },
    )
    assert response.status_code == 200
    assert MessageReaction.objects.get(message=prompt).payload["not_rankable"] is True


def test_task_request_without_a_user_is_400_user_not_specified(frontend):
    response = frontend.post("tasks/", {"type": "random"})
    assert_error(response, 400, 4000)
    assert Task.objects.count() == 0


def test_malformed_user_header_is_400_auth_and_username_required(frontend):
    task = frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE}).json()
    response = frontend.post(f"tasks/{task['id']}/ack", {"message_id": "fm-1"}, user="alice")
    assert_error(response, 400, 2012)
    assert Task.objects.get(id=task["id"]).ack is None


def test_task_request_for_a_disabled_user_is_403_user_disabled(frontend):
    assert frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE}).status_code == 200
    User.objects.filter(api_client=frontend.client_row, username="alice").update(enabled=False)
    response = frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE})
    assert_error(response, 403, 4001)
    assert Task.objects.count() == 1


def test_reply_reusing_another_messages_frontend_id_is_409_and_writes_nothing(frontend):
    acked(frontend, "initial_prompt", frontend_message_id="fm-1")
    assert frontend.post("tasks/interaction", reply_body(user_message_id="um-1")).status_code == 200
    second = acked(frontend, "initial_prompt", frontend_message_id="fm-2")
    body = {**reply_body(text="Another prompt", user_message_id="um-1"), "message_id": "fm-2"}
    response = frontend.post("tasks/interaction", body)
    assert_error(response, 409, 2000)
    assert Message.objects.count() == 1
    assert Task.objects.get(id=second["id"]).done is False


def test_labels_after_the_message_was_decided_are_409_and_write_nothing(frontend):
    prompt = prompt_to_label(frontend)
    task = acked(frontend, "label_initial_prompt")
    review(Message.objects.get(id=prompt.id), [make_user(frontend.client_row)])
    update_config(changes={"num_reviews_initial_prompt": 1}, author="test")
    advance_tree(tree_id=prompt.message_tree_id)  # decided with the one review it has
    response = frontend.post("tasks/interaction", labels_body(task, GOOD_REVIEW))
    assert_error(response, 409, 2010)
    assert TextLabels.objects.filter(task_id=task["id"]).count() == 0
    assert Task.objects.get(id=task["id"]).done is False


def test_ranking_after_the_tree_left_ranking_is_409_and_writes_nothing(frontend):
    prompt = tree_to_rank(frontend)
    task = acked(frontend, "rank_assistant_replies")
    halt_tree(tree_id=prompt.message_tree_id, actor="moderator")
    response = frontend.post("tasks/interaction", ranking_body([0, 1, 2]))
    assert_error(response, 409, 2010)
    assert MessageReaction.objects.count() == 0
    assert Task.objects.get(id=task["id"]).done is False


@pytest.mark.parametrize("path", ["stats/", "auth/check", "admin/backend_settings/public"])
def test_a_malformed_user_header_is_400_even_where_no_user_is_read(trusted_frontend, path):
    """The document declares the 400 on every keyed operation, and the per-user throttle
    would otherwise count any text as a user."""
    response = trusted_frontend.get(path, user="alice")
    assert_error(response, 400, 2012)
