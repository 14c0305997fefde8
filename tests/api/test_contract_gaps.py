"""Contract tests for the v1 (path, method) pairs no other test file exercised: status codes,
field names and shapes as OA's ``protocol.py`` defines them."""

from __future__ import annotations

import pytest

from backend.accounts.models import User
from backend.stats.services import recompute_troll_stats, recompute_user_stats
from backend.trees.models import Message, Task
from tests.api.conftest import protocol_user
from tests.builders import add_reply, make_tree, make_user

pytestmark = pytest.mark.django_db

ALICE = protocol_user("alice")
# OA ``FrontEndUser`` (a ``User`` with its settings and dates).
OA_FRONTEND_USER_FIELDS = {
    "id", "display_name", "auth_method", "user_id", "enabled", "deleted", "notes",
    "created_date", "show_on_leaderboard", "streak_days", "streak_last_day_date",
    "last_activity_date", "tos_acceptance_date",
}  # fmt: skip
OA_CONVERSATION_MESSAGE_FIELDS = {
    "id", "user_id", "frontend_message_id", "text", "lang", "is_assistant", "emojis",
    "user_emojis", "user_is_author", "synthetic",
}  # fmt: skip
OA_MESSAGE_FIELDS = OA_CONVERSATION_MESSAGE_FIELDS | {
    "parent_id", "created_date", "review_result", "review_count", "deleted", "edited",
    "model_name", "message_tree_id", "ranking_count", "rank", "user",
}  # fmt: skip
OA_MESSAGE_REVISION_FIELDS = {
    "id", "text", "message_id", "user_id", "created_date", "user_is_author",
}  # fmt: skip
# OA ``UserScore`` (leaderboard rows) and ``TrollScore`` (trollboard rows).
OA_USER_SCORE_FIELDS = {
    "rank", "user_id", "highlighted", "username", "auth_method", "display_name",
    "leader_score", "level", "base_date", "modified_date", "prompts", "replies_assistant",
    "replies_prompter", "labels_simple", "labels_full", "rankings_total", "rankings_good",
    "accepted_prompts", "accepted_replies_assistant", "accepted_replies_prompter",
    "reply_ranked_1", "reply_ranked_2", "reply_ranked_3", "streak_last_day_date",
    "streak_days", "last_activity_date",
}  # fmt: skip
OA_TROLL_SCORE_FIELDS = {
    "rank", "user_id", "highlighted", "username", "auth_method", "display_name",
    "last_activity_date", "enabled", "deleted", "show_on_leaderboard", "troll_score",
    "base_date", "modified_date", "red_flags", "upvotes", "downvotes", "spam_prompts",
    "quality", "humor", "toxicity", "violence", "helpfulness", "spam", "lang_mismach",
    "not_appropriate", "pii", "hate_speech", "sexual_content", "political_content",
}  # fmt: skip
OA_TREE_MESSAGE_COUNT_FIELDS = {
    "message_tree_id", "state", "depth", "oldest", "youngest", "count", "goal_tree_size",
}  # fmt: skip


def acked_initial_prompt(frontend, frontend_message_id="fm-1") -> dict:
    task = frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE}).json()
    ack = frontend.post(f"tasks/{task['id']}/ack", {"message_id": frontend_message_id})
    assert ack.status_code == 204
    return task


def grown(frontend):
    """prompt → a1 (accepted) → p1 (accepted), all of alice in ``frontend``'s client."""
    author = make_user(frontend.client_row, username="alice")
    prompt = make_tree(author=author)
    a1 = add_reply(prompt, author=author, review_result=True, text="first answer")
    p1 = add_reply(a1, author=author, review_result=True, text="follow-up")
    return prompt, a1, p1


# --- tasks -----------------------------------------------------------------------------------


def test_close_answers_task_done_and_marks_the_task_done(frontend):
    task = acked_initial_prompt(frontend)
    response = frontend.post("tasks/close", {"message_id": "fm-1"})
    assert response.status_code == 200
    assert response.json() == {"type": "task_done", "id": task["id"]}
    assert Task.objects.get(id=task["id"]).done is True


def test_close_of_unbound_frontend_message_is_404_task_not_found(frontend):
    response = frontend.post("tasks/close", {"message_id": "never-acked"})
    assert response.status_code == 404
    assert set(response.json()) == {"message", "error_code"}
    assert response.json()["error_code"] == 2100


def test_close_of_a_skipped_task_is_400_already_done(frontend):
    task = acked_initial_prompt(frontend)
    frontend.post(f"tasks/{task['id']}/nack", {"reason": "no idea"}, user="local:alice")
    response = frontend.post("tasks/close", {"message_id": "fm-1"})
    assert (response.status_code, response.json()["error_code"]) == (400, 2105)


def test_nack_answers_204_with_no_body_and_skips_the_task(frontend):
    task = frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE}).json()
    response = frontend.post(f"tasks/{task['id']}/nack", {"reason": "later"}, user="local:alice")
    assert response.status_code == 204
    assert response.content == b""
    row = Task.objects.get(id=task["id"])
    assert (row.skipped, row.skip_reason) == (True, "later")


def test_availability_counts_every_oa_request_type_as_an_integer(frontend):
    response = frontend.post("tasks/availability", ALICE)
    assert response.status_code == 200
    body = response.json()
    assert {
        "random", "initial_prompt", "prompter_reply", "assistant_reply",
        "rank_prompter_replies", "rank_assistant_replies", "label_initial_prompt",
        "label_assistant_reply", "label_prompter_reply",
    } <= set(body)  # fmt: skip
    assert all(isinstance(count, int) for count in body.values())


# --- messages --------------------------------------------------------------------------------


def test_revisions_list_oa_message_revisions(trusted_frontend):
    _prompt, a1, _p1 = grown(trusted_frontend)
    edit = {"user": protocol_user("mod"), "new_content": "better answer"}
    assert trusted_frontend.post(f"messages/{a1.id}/edit", edit).status_code == 200
    response = trusted_frontend.get(f"messages/{a1.id}/revisions")
    assert response.status_code == 200
    revisions = response.json()
    assert [r["text"] for r in revisions] == ["first answer", "better answer"]
    assert all(set(r) == OA_MESSAGE_REVISION_FIELDS for r in revisions)
    assert {r["message_id"] for r in revisions} == {str(a1.id)}


def test_revisions_of_unknown_message_is_404_message_not_found(frontend):
    response = frontend.get("messages/00000000-0000-0000-0000-000000000000/revisions")
    assert (response.status_code, response.json()["error_code"]) == (404, 2001)


def test_frontend_longest_conversation_is_an_oa_conversation(frontend):
    prompt, a1, p1 = grown(frontend)
    response = frontend.get(
        f"frontend_messages/{a1.frontend_message_id}/longest_conversation_in_tree"
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"messages"}
    assert [m["id"] for m in body["messages"]] == [str(prompt.id), str(a1.id), str(p1.id)]
    assert all(set(m) == OA_CONVERSATION_MESSAGE_FIELDS for m in body["messages"])


def test_frontend_max_children_is_an_oa_message_tree(frontend):
    prompt, a1, _p1 = grown(frontend)
    response = frontend.get(f"frontend_messages/{prompt.frontend_message_id}/max_children_in_tree")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "messages"}
    assert body["id"] == str(prompt.id)
    assert [m["id"] for m in body["messages"]] == [str(prompt.id), str(a1.id)]
    assert all(set(m) == OA_MESSAGE_FIELDS for m in body["messages"])


def test_frontend_message_of_another_client_is_404(frontend, make_frontend):
    _prompt, a1, _p1 = grown(frontend)
    other = make_frontend()
    path = f"frontend_messages/{a1.frontend_message_id}/max_children_in_tree"
    response = other.get(path)
    assert response.status_code == 404
    assert set(response.json()) == {"message", "error_code"}


# --- users -----------------------------------------------------------------------------------


def test_users_by_display_name_are_oa_frontend_users_in_display_name_order(frontend):
    for username, display in (("u1", "Zed"), ("u2", "Amy"), ("u3", "Mia")):
        User.objects.filter(id=make_user(frontend.client_row, username=username).id).update(
            display_name=display
        )
    response = frontend.get("users/by_display_name")
    assert response.status_code == 200
    users = response.json()
    assert [u["display_name"] for u in users] == ["Amy", "Mia", "Zed"]
    assert all(set(u) == OA_FRONTEND_USER_FIELDS for u in users)


def test_users_by_display_name_lists_only_the_calling_clients_users(frontend, make_frontend):
    make_user(frontend.client_row, username="mine")
    make_user(make_frontend().client_row, username="theirs")
    users = frontend.get("users/by_display_name").json()
    assert [u["id"] for u in users] == ["mine"]


def test_frontend_users_list_is_oa_frontend_users_by_username(frontend):
    for username in ("carol", "bob"):
        make_user(frontend.client_row, username=username)
    response = frontend.get("frontend_users/")
    assert response.status_code == 200
    users = response.json()
    assert [u["id"] for u in users] == ["bob", "carol"]
    assert all(set(u) == OA_FRONTEND_USER_FIELDS for u in users)


def test_delete_frontend_user_messages_flags_them_deleted(trusted_frontend):
    _prompt, a1, p1 = grown(trusted_frontend)
    response = trusted_frontend.delete("frontend_users/local/alice/messages")
    assert response.status_code == 204
    assert Message.objects.filter(id__in=[a1.id, p1.id], deleted=True).count() == 2


# --- stats -----------------------------------------------------------------------------------


def test_tree_manager_message_counts_are_oa_tree_message_count_stats(trusted_frontend):
    prompt, _a1, _p1 = grown(trusted_frontend)
    response = trusted_frontend.get("stats/tree_manager/message_counts")
    assert response.status_code == 200
    [row] = response.json()
    assert set(row) == OA_TREE_MESSAGE_COUNT_FIELDS
    assert (row["message_tree_id"], row["count"], row["depth"]) == (str(prompt.id), 3, 2)


def test_tree_manager_message_counts_need_a_trusted_client(frontend):
    response = frontend.get("stats/tree_manager/message_counts")
    assert (response.status_code, response.json()["error_code"]) == (403, 2)


def test_leaderboard_rows_are_oa_user_scores(frontend):
    _prompt, _a1, _p1 = grown(frontend)
    recompute_user_stats("total")
    response = frontend.get("leaderboards/total")
    assert response.status_code == 200
    [row] = response.json()["leaderboard"]
    assert set(row) == OA_USER_SCORE_FIELDS
    assert row["username"] == "alice"


def test_user_stats_window_is_a_leaderboard_of_user_scores(frontend):
    _prompt, a1, _p1 = grown(frontend)
    recompute_user_stats("week")
    response = frontend.get(f"users/{a1.user_id}/stats/week/window")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"time_frame", "last_updated", "leaderboard"}
    assert body["time_frame"] == "week"
    assert all(set(row) == OA_USER_SCORE_FIELDS for row in body["leaderboard"])


def test_trollboard_rows_are_oa_troll_scores(trusted_frontend):
    troll = make_user(trusted_frontend.client_row, username="troll")
    make_tree(author=troll, state="aborted_low_grade")
    recompute_troll_stats("total")
    response = trusted_frontend.get("trollboards/total")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"time_frame", "last_updated", "trollboard"}
    [row] = body["trollboard"]
    assert set(row) == OA_TROLL_SCORE_FIELDS


def test_users_cursor_is_an_oa_front_end_user_page(frontend):
    make_user(frontend.client_row, username="ann")
    response = frontend.get("users/cursor")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"prev", "next", "sort_key", "items", "order"}
    assert all(set(u) == OA_FRONTEND_USER_FIELDS for u in body["items"])


def test_cached_stats_are_oa_cached_stats_responses(trusted_frontend):
    assert trusted_frontend.post("stats/cached/update").status_code == 204
    one = trusted_frontend.get("stats/cached/human_messages_by_lang")
    assert one.status_code == 200
    assert set(one.json()) == {"name", "last_updated", "stats"}
    every = trusted_frontend.get("stats/cached").json()
    assert set(every) == {"stats_by_name"}
    assert all(set(v) == {"name", "last_updated", "stats"} for v in every["stats_by_name"].values())
