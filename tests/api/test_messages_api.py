"""/api/v1/messages/ and /frontend_messages/ over HTTP: OA shapes, status and error codes,
read scoping between API clients, moderation writes, emojis, keyset pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.trees.growth_config import update_config
from backend.trees.models import FlaggedMessage, Message, MessageEmoji, MessageTree
from tests.api.conftest import protocol_user
from tests.builders import add_reply, make_tree, make_user

pytestmark = pytest.mark.django_db

ALICE = protocol_user("alice")
OA_MESSAGE_FIELDS = {
    "id", "user_id", "frontend_message_id", "text", "lang", "is_assistant", "emojis",
    "user_emojis", "user_is_author", "synthetic", "parent_id", "created_date", "review_result",
    "review_count", "deleted", "edited", "model_name", "message_tree_id", "ranking_count",
    "rank", "user",
}  # fmt: skip
OA_CONVERSATION_MESSAGE_FIELDS = {
    "id", "user_id", "frontend_message_id", "text", "lang", "is_assistant", "emojis",
    "user_emojis", "user_is_author", "synthetic",
}  # fmt: skip


def alice_of(frontend):
    return make_user(frontend.client_row, username="alice")


def grown(frontend):
    """prompt → a1 (accepted) → p1 (accepted); prompt → a2 (pending); by alice's client."""
    author = alice_of(frontend)
    prompt = make_tree(author=author)
    a1 = add_reply(prompt, author=author, review_result=True, text="first answer")
    a2 = add_reply(prompt, author=author, text="second answer")
    p1 = add_reply(a1, author=author, review_result=True, text="follow-up")
    return prompt, a1, a2, p1


# --- reading ---------------------------------------------------------------------------------


def test_message_has_oa_message_shape(frontend):
    prompt, a1, *_ = grown(frontend)
    body = frontend.get(f"messages/{a1.id}").json()
    assert set(body) == OA_MESSAGE_FIELDS
    assert body["parent_id"] == str(prompt.id)
    assert body["message_tree_id"] == str(prompt.message_tree_id)
    assert body["is_assistant"] is True and body["user"] is None


def test_unknown_message_is_404_with_message_not_found(frontend):
    response = frontend.get("messages/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.json()["error_code"] == 2001


def test_any_client_reads_another_clients_message_without_its_users_emojis(make_frontend):
    owner, other = make_frontend(), make_frontend()
    _prompt, a1, *_ = grown(owner)
    owner.post(f"messages/{a1.id}/emoji", {"user": protocol_user("dave"), "emoji": "+1"})
    make_user(other.client_row, username="dave")
    # "local:dave" of the other client is another person than the owner's dave.
    body = other.get(f"messages/{a1.id}", user="local:dave").json()
    assert body["emojis"] == {"+1": 1}
    assert body["user_emojis"] == [] and body["user_is_author"] is False


def test_viewer_sees_own_emojis_and_authorship(frontend):
    _prompt, a1, *_ = grown(frontend)
    make_user(frontend.client_row, username="bob")
    frontend.post(f"messages/{a1.id}/emoji", {"user": protocol_user("bob"), "emoji": "+1"})
    as_bob = frontend.get(f"messages/{a1.id}", user="local:bob").json()
    as_alice = frontend.get(f"messages/{a1.id}", user="local:alice").json()
    assert as_bob["user_emojis"] == ["+1"] and as_bob["user_is_author"] is False
    assert as_alice["user_emojis"] == [] and as_alice["user_is_author"] is True


def test_conversation_runs_from_prompt_to_message(frontend):
    prompt, a1, _a2, p1 = grown(frontend)
    body = frontend.get(f"messages/{p1.id}/conversation").json()
    assert [m["id"] for m in body["messages"]] == [str(prompt.id), str(a1.id), str(p1.id)]
    assert set(body["messages"][0]) == OA_CONVERSATION_MESSAGE_FIELDS


def test_tree_includes_pending_by_default_and_excludes_deleted(frontend):
    prompt, a1, a2, p1 = grown(frontend)
    Message.objects.filter(id=p1.id).update(deleted=True)
    body = frontend.get(f"messages/{a1.id}/tree").json()
    assert body["id"] == str(prompt.message_tree_id)
    assert {m["id"] for m in body["messages"]} == {str(prompt.id), str(a1.id), str(a2.id)}
    only_accepted = frontend.get(f"messages/{a1.id}/tree", include_spam="false").json()
    assert {m["id"] for m in only_accepted["messages"]} == {str(prompt.id), str(a1.id)}
    with_deleted = frontend.get(f"messages/{a1.id}/tree", include_deleted="true").json()
    assert len(with_deleted["messages"]) == 4


def test_children_are_live_replies_reviewed_or_not(frontend):
    prompt, a1, a2, _p1 = grown(frontend)
    add_reply(prompt, author=alice_of_client(frontend), deleted=True)
    body = frontend.get(f"messages/{prompt.id}/children").json()
    assert {m["id"] for m in body} == {str(a1.id), str(a2.id)}


def alice_of_client(frontend):
    return frontend.client_row.users.get(username="alice")


def test_descendants_are_the_subtree_below_depth_first(frontend):
    prompt, a1, a2, p1 = grown(frontend)
    body = frontend.get(f"messages/{prompt.id}/descendants").json()
    assert body["id"] == str(prompt.id)
    assert [m["id"] for m in body["messages"]] == [str(a1.id), str(p1.id), str(a2.id)]


def test_longest_conversation_ends_at_deepest_accepted_message(frontend):
    prompt, a1, _a2, p1 = grown(frontend)
    body = frontend.get(f"messages/{prompt.id}/longest_conversation_in_tree").json()
    assert [m["id"] for m in body["messages"]] == [str(prompt.id), str(a1.id), str(p1.id)]


def test_max_children_in_tree_is_the_parent_and_its_accepted_children(frontend):
    prompt, a1, _a2, _p1 = grown(frontend)
    body = frontend.get(f"messages/{a1.id}/max_children_in_tree").json()
    assert body["id"] == str(prompt.id)
    assert [m["id"] for m in body["messages"]] == [str(prompt.id), str(a1.id)]


def test_tree_reads_run_a_fixed_number_of_queries(frontend, django_assert_max_num_queries):
    prompt, *_ = grown(frontend)
    for _ in range(10):
        add_reply(prompt, author=alice_of_client(frontend), review_result=True)
    # api key, viewer, the tree, the viewer's emojis
    with django_assert_max_num_queries(4):
        response = frontend.get(f"messages/{prompt.id}/tree", user="local:alice")
    assert len(response.json()["messages"]) == 14


# --- listing ---------------------------------------------------------------------------------


def test_list_is_newest_first_and_scoped_to_the_calling_client(make_frontend):
    mine, theirs = make_frontend(), make_frontend()
    prompt, *_ = grown(mine)
    grown(theirs)
    body = mine.get("messages/").json()
    assert len(body) == 4
    assert all(m["message_tree_id"] == str(prompt.message_tree_id) for m in body)
    dates = [m["created_date"] for m in body]
    assert dates == sorted(dates, reverse=True)


def test_untrusted_client_listing_another_client_is_forbidden(make_frontend):
    mine, theirs = make_frontend(), make_frontend()
    response = mine.get("messages/", api_client_id=str(theirs.client_row.id))
    assert response.status_code == 403
    assert response.json()["error_code"] == 2


def test_trusted_client_lists_another_clients_messages(make_frontend):
    admin, theirs = make_frontend(trusted=True), make_frontend()
    grown(theirs)
    body = admin.get("messages/", api_client_id=str(theirs.client_row.id)).json()
    assert len(body) == 4


def test_list_by_username_needs_auth_method_too(frontend):
    response = frontend.get("messages/", username="alice")
    assert response.status_code == 400
    assert response.json()["error_code"] == 2012


def test_list_filters_by_author_roots_and_deleted(frontend):
    prompt, a1, *_ = grown(frontend)
    other = make_tree(author=make_user(frontend.client_row, username="carol"))
    Message.objects.filter(id=a1.id).update(deleted=True)
    by_alice = frontend.get("messages/", auth_method="local", username="alice").json()
    assert len(by_alice) == 3
    roots = frontend.get("messages/", only_roots="true").json()
    assert {m["id"] for m in roots} == {str(prompt.id), str(other.id)}
    assert len(frontend.get("messages/", allow_deleted="true").json()) == 5


def test_list_max_count_over_1000_is_rejected(frontend):
    response = frontend.get("messages/", max_count=1001)
    assert response.status_code == 422


def test_list_runs_a_fixed_number_of_queries(frontend, django_assert_max_num_queries):
    prompt, *_ = grown(frontend)
    for _ in range(30):
        add_reply(prompt, author=alice_of_client(frontend))
    with django_assert_max_num_queries(4):
        response = frontend.get("messages/", user="local:alice", max_count=100)
    assert len(response.json()) == 34


# --- keyset pages ----------------------------------------------------------------------------


def five_messages(frontend):
    author = alice_of(frontend)
    prompt = make_tree(author=author)
    start = timezone.now() - timedelta(hours=1)
    Message.objects.filter(id=prompt.id).update(created_at=start)
    replies = [
        add_reply(prompt, author=author, created_at=start + timedelta(minutes=i + 1))
        for i in range(4)
    ]
    return [str(prompt.id), *(str(r.id) for r in replies)]


def test_cursor_page_has_page_result_shape(frontend):
    five_messages(frontend)
    body = frontend.get("messages/cursor", max_count=2).json()
    assert set(body) == {"prev", "next", "sort_key", "items", "order"}
    assert body["sort_key"] == "created_date" and body["order"] == "asc"
    assert set(body["items"][0]) == OA_MESSAGE_FIELDS


def test_cursor_walks_forward_and_back_through_all_messages(frontend):
    ids = five_messages(frontend)
    first = frontend.get("messages/cursor", max_count=2).json()
    assert [m["id"] for m in first["items"]] == ids[:2] and first["prev"] is None
    second = frontend.get("messages/cursor", max_count=2, after=first["next"]).json()
    assert [m["id"] for m in second["items"]] == ids[2:4]
    third = frontend.get("messages/cursor", max_count=2, after=second["next"]).json()
    assert [m["id"] for m in third["items"]] == ids[4:]
    back = frontend.get("messages/cursor", max_count=2, before=third["prev"]).json()
    assert [m["id"] for m in back["items"]] == ids[2:4]


def test_cursor_descending_starts_with_newest(frontend):
    ids = five_messages(frontend)
    first = frontend.get("messages/cursor", max_count=2, desc="true").json()
    assert [m["id"] for m in first["items"]] == ids[::-1][:2] and first["order"] == "desc"
    second = frontend.get("messages/cursor", max_count=2, desc="true", after=first["next"]).json()
    assert [m["id"] for m in second["items"]] == ids[::-1][2:4]


def test_invalid_cursor_is_400_with_invalid_cursor_value(frontend):
    response = frontend.get("messages/cursor", after="yesterday")
    assert response.status_code == 400
    assert response.json()["error_code"] == 101


def test_cursor_include_user_renders_own_clients_authors(frontend):
    five_messages(frontend)
    body = frontend.get("messages/cursor", include_user="true", max_count=1).json()
    user = body["items"][0]["user"]
    assert user["id"] == "alice" and user["auth_method"] == "local"
    assert {"user_id", "display_name", "enabled", "deleted", "notes"} <= set(user)


def test_cursor_search_finds_text(frontend):
    grown(frontend)
    body = frontend.get("messages/cursor", search_query="FOLLOW").json()
    assert [m["text"] for m in body["items"]] == ["follow-up"]


# --- moderation ------------------------------------------------------------------------------


def test_delete_needs_a_trusted_client_and_deletes_nothing_otherwise(frontend):
    _prompt, a1, *_ = grown(frontend)
    response = frontend.delete(f"messages/{a1.id}")
    assert response.status_code == 403 and response.json()["error_code"] == 2
    assert Message.objects.filter(deleted=True).count() == 0


def test_trusted_delete_soft_deletes_the_subtree(trusted_frontend):
    _prompt, a1, _a2, p1 = grown(trusted_frontend)
    assert trusted_frontend.delete(f"messages/{a1.id}").status_code == 204
    deleted = set(Message.objects.filter(deleted=True).values_list("id", flat=True))
    assert deleted == {a1.id, p1.id}


def test_undelete_restores_message_and_ancestors(trusted_frontend):
    prompt, a1, _a2, p1 = grown(trusted_frontend)
    Message.objects.filter(id__in=[prompt.id, a1.id, p1.id]).update(deleted=True)
    response = trusted_frontend.put(f"messages/{p1.id}/undelete")
    assert response.status_code == 202
    assert response["Content-Type"] == "application/json" and response.json() is None
    assert Message.objects.filter(deleted=True).count() == 0


def test_undelete_needs_a_trusted_client(frontend):
    _prompt, a1, *_ = grown(frontend)
    assert frontend.put(f"messages/{a1.id}/undelete").status_code == 403


def test_tree_state_has_oa_shape(frontend):
    prompt, *_ = grown(frontend)
    body = frontend.get(f"messages/{prompt.id}/tree/state").json()
    assert set(body) == {
        "message_tree_id", "state", "active", "goal_tree_size", "max_depth",
        "max_children_count", "origin",
    }  # fmt: skip
    assert body["state"] == "growing" and body["active"] is True


def test_halting_a_tree_needs_a_trusted_client(frontend):
    prompt, *_ = grown(frontend)
    response = frontend.put(f"messages/{prompt.id}/tree/state?halt=true")
    assert response.status_code == 403
    assert MessageTree.objects.get(id=prompt.message_tree_id).state == "growing"


def test_trusted_client_halts_and_resumes_a_tree(trusted_frontend):
    prompt, a1, *_ = grown(trusted_frontend)
    # A tree that once won the prompt lottery resumes growing (lifecycle.state_after_unhalt).
    MessageTree.objects.filter(id=prompt.message_tree_id).update(
        won_prompt_lottery_date=timezone.now()
    )
    halted = trusted_frontend.put(f"messages/{a1.id}/tree/state?halt=true").json()
    assert halted["state"] == "halted_by_moderator" and halted["active"] is False
    again = trusted_frontend.put(f"messages/{a1.id}/tree/state?halt=true")
    assert again.status_code == 200
    resumed = trusted_frontend.put(f"messages/{a1.id}/tree/state?halt=false").json()
    assert resumed["state"] == "growing" and resumed["active"] is True


def test_tree_state_put_without_halt_is_422(trusted_frontend):
    prompt, *_ = grown(trusted_frontend)
    assert trusted_frontend.put(f"messages/{prompt.id}/tree/state").status_code == 422


# --- edits -----------------------------------------------------------------------------------


def test_edit_keeps_every_version_in_the_history(trusted_frontend):
    _prompt, a1, *_ = grown(trusted_frontend)
    body = {"user": protocol_user("mod"), "new_content": "better answer"}
    edited = trusted_frontend.post(f"messages/{a1.id}/edit", body)
    assert edited.status_code == 200
    assert edited.json()["text"] == "better answer" and edited.json()["edited"] is True
    history = trusted_frontend.get(f"messages/{a1.id}/history", user="local:mod").json()
    assert [r["text"] for r in history] == ["first answer", "better answer"]
    assert set(history[0]) == {
        "id", "text", "message_id", "user_id", "created_date", "user_is_author",
    }  # fmt: skip
    assert [r["user_is_author"] for r in history] == [False, True]


def test_edit_with_empty_text_is_400_and_changes_nothing(trusted_frontend):
    _prompt, a1, *_ = grown(trusted_frontend)
    body = {"user": protocol_user("mod"), "new_content": "   "}
    response = trusted_frontend.post(f"messages/{a1.id}/edit", body)
    assert response.status_code == 400 and response.json()["error_code"] == 1010
    assert Message.objects.get(id=a1.id).text == "first answer"


def test_edit_needs_a_trusted_client(frontend):
    _prompt, a1, *_ = grown(frontend)
    body = {"user": ALICE, "new_content": "mine now"}
    assert frontend.post(f"messages/{a1.id}/edit", body).status_code == 403


def test_history_of_unknown_message_is_404(frontend):
    response = frontend.get("messages/00000000-0000-0000-0000-000000000000/history")
    assert response.status_code == 404 and response.json()["error_code"] == 2001


# --- emojis ----------------------------------------------------------------------------------


def test_emoji_toggle_adds_then_removes(frontend):
    _prompt, a1, *_ = grown(frontend)
    body = {"user": protocol_user("bob"), "emoji": "clap"}
    added = frontend.post(f"messages/{a1.id}/emoji", body)
    assert added.status_code == 202
    assert added.json()["emojis"] == {"clap": 1} and added.json()["user_emojis"] == ["clap"]
    removed = frontend.post(f"messages/{a1.id}/emoji", body).json()
    assert removed["emojis"] == {} and removed["user_emojis"] == []


def test_thumbs_up_replaces_thumbs_down(frontend):
    _prompt, a1, *_ = grown(frontend)
    bob = protocol_user("bob")
    frontend.post(f"messages/{a1.id}/emoji", {"user": bob, "emoji": "-1", "op": "add"})
    body = frontend.post(f"messages/{a1.id}/emoji", {"user": bob, "emoji": "+1", "op": "add"})
    assert body.json()["emojis"] == {"+1": 1} and body.json()["user_emojis"] == ["+1"]


def test_author_cannot_vote_on_own_message(frontend):
    _prompt, a1, *_ = grown(frontend)
    body = frontend.post(f"messages/{a1.id}/emoji", {"user": ALICE, "emoji": "+1"}).json()
    assert body["emojis"] == {} and MessageEmoji.objects.count() == 0


def test_unknown_emoji_is_422(frontend):
    _prompt, a1, *_ = grown(frontend)
    response = frontend.post(f"messages/{a1.id}/emoji", {"user": ALICE, "emoji": "banana"})
    assert response.status_code == 422 and MessageEmoji.objects.count() == 0


def test_emoji_on_unknown_message_is_404(frontend):
    body = {"user": ALICE, "emoji": "clap"}
    response = frontend.post("messages/00000000-0000-0000-0000-000000000000/emoji", body)
    assert response.status_code == 404 and response.json()["error_code"] == 2001


def test_red_flags_queue_the_message_and_auto_moderation_deletes_it(
    frontend, django_capture_on_commit_callbacks
):
    update_config(changes={"auto_mod_red_flags": 2}, author="test")
    _prompt, a1, *_ = grown(frontend)
    with django_capture_on_commit_callbacks(execute=True):
        for name in ("bob", "carol"):
            body = {"user": protocol_user(name), "emoji": "red_flag"}
            frontend.post(f"messages/{a1.id}/emoji", body)
    assert FlaggedMessage.objects.filter(message_id=a1.id, processed=False).exists()
    assert Message.objects.get(id=a1.id).deleted is True


# --- frontend_messages -----------------------------------------------------------------------


def test_frontend_message_is_found_by_the_clients_own_id(frontend):
    _prompt, a1, *_ = grown(frontend)
    body = frontend.get(f"frontend_messages/{a1.frontend_message_id}").json()
    assert set(body) == OA_CONVERSATION_MESSAGE_FIELDS and body["id"] == str(a1.id)


def test_frontend_message_ids_of_another_client_are_not_found(make_frontend):
    owner, other = make_frontend(), make_frontend()
    _prompt, a1, *_ = grown(owner)
    response = other.get(f"frontend_messages/{a1.frontend_message_id}/conversation")
    assert response.status_code == 404 and response.json()["error_code"] == 2001


def test_frontend_tree_and_children_hold_accepted_messages_only(frontend):
    prompt, a1, _a2, p1 = grown(frontend)
    tree = frontend.get(f"frontend_messages/{prompt.frontend_message_id}/tree").json()
    assert {m["id"] for m in tree["messages"]} == {str(prompt.id), str(a1.id), str(p1.id)}
    children = frontend.get(f"frontend_messages/{prompt.frontend_message_id}/children").json()
    assert [m["id"] for m in children] == [str(a1.id)]


def test_frontend_conversation_and_descendants(frontend):
    prompt, a1, _a2, p1 = grown(frontend)
    conv = frontend.get(f"frontend_messages/{p1.frontend_message_id}/conversation").json()
    assert [m["id"] for m in conv["messages"]] == [str(prompt.id), str(a1.id), str(p1.id)]
    desc = frontend.get(f"frontend_messages/{a1.frontend_message_id}/descendants").json()
    assert desc["id"] == str(a1.id) and [m["id"] for m in desc["messages"]] == [str(p1.id)]
