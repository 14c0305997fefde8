"""Contract tests of /users/ and /frontend_users/ against OA's protocol (FrontEndUser,
FrontEndUserPage, Message lists, status and error codes)."""

from __future__ import annotations

import pytest

from backend.accounts.models import User
from backend.trees.models import Message
from tests.api.conftest import protocol_user
from tests.builders import add_reply, make_tree, make_user

pytestmark = pytest.mark.django_db

FRONTEND_USER_FIELDS = {
    "id",
    "display_name",
    "auth_method",
    "user_id",
    "enabled",
    "deleted",
    "notes",
    "created_date",
    "show_on_leaderboard",
    "streak_days",
    "streak_last_day_date",
    "last_activity_date",
    "tos_acceptance_date",
}


def test_get_user_returns_front_end_user(frontend):
    user = make_user(frontend.client_row, username="ann")
    response = frontend.get(f"users/{user.id}")
    assert response.status_code == 200
    assert set(response.json()) == FRONTEND_USER_FIELDS
    assert (response.json()["id"], response.json()["user_id"]) == ("ann", str(user.id))


def test_another_clients_user_is_not_found(frontend, make_frontend):
    other = make_user(make_frontend().client_row)
    response = frontend.get(f"users/{other.id}")
    assert response.status_code == 404
    assert response.json()["error_code"] == 4002


def test_naming_another_client_is_forbidden_for_untrusted(frontend, make_frontend):
    other = make_frontend().client_row
    response = frontend.get(f"users/{make_user(other).id}", api_client_id=str(other.id))
    assert (response.status_code, response.json()["error_code"]) == (403, 2)


def test_trusted_client_reads_any_user(trusted_frontend, make_frontend):
    other = make_user(make_frontend().client_row)
    assert trusted_frontend.get(f"users/{other.id}").status_code == 200


def test_by_username_orders_and_searches_own_users(frontend, make_frontend):
    for name in ("carl", "anna", "bert", "annabel"):
        make_user(frontend.client_row, username=name)
    make_user(make_frontend().client_row, username="anne")
    names = [u["id"] for u in frontend.get("users/by_username").json()]
    assert names == ["anna", "annabel", "bert", "carl"]
    found = [u["id"] for u in frontend.get("users/by_username", search_text="nna").json()]
    assert found == ["anna", "annabel"]


def test_cursor_pages_forward_and_back(frontend):
    for name in ("a", "b", "c"):
        make_user(frontend.client_row, username=name)
    first = frontend.get("users/cursor", max_count=2).json()
    assert [u["id"] for u in first["items"]] == ["a", "b"]
    assert (first["prev"], first["sort_key"], first["order"]) == (None, "username", "asc")
    second = frontend.get("users/cursor", max_count=2, after=first["next"]).json()
    assert [u["id"] for u in second["items"]] == ["c"]
    back = frontend.get("users/cursor", max_count=2, before=second["prev"]).json()
    assert [u["id"] for u in back["items"]] == ["a", "b"]


def test_cursor_rejects_unknown_sort_key(frontend):
    response = frontend.get("users/cursor", sort_key="email")
    assert (response.status_code, response.json()["error_code"]) == (400, 100)


def test_update_user_needs_trusted_client(frontend):
    user = make_user(frontend.client_row)
    response = frontend.put(f"users/{user.id}", enabled="false")
    assert (response.status_code, response.json()["error_code"]) == (403, 2)


def test_trusted_update_sets_flags_notes_and_tos(trusted_frontend):
    user = make_user(trusted_frontend.client_row)
    response = trusted_frontend.put(
        f"users/{user.id}",
        enabled="false",
        notes="spam",
        show_on_leaderboard="false",
        tos_acceptance="true",
    )
    assert response.status_code == 204
    user.refresh_from_db()
    assert (user.enabled, user.notes, user.show_on_leaderboard) == (False, "spam", False)
    assert user.tos_acceptance_date is not None


def test_delete_user_flags_and_anonymises(trusted_frontend):
    user = make_user(trusted_frontend.client_row, username="bob")
    assert trusted_frontend.delete(f"users/{user.id}").status_code == 204
    user.refresh_from_db()
    assert user.deleted and not user.show_on_leaderboard
    assert (user.display_name, user.username) == ("Deleted User", f"deleted_{user.id}")


def test_user_messages_are_oa_messages_with_author(frontend):
    user = make_user(frontend.client_row)
    prompt = make_tree(author=user)
    response = frontend.get(f"users/{user.id}/messages")
    assert response.status_code == 200
    [message] = response.json()
    assert message["id"] == str(prompt.id)
    assert message["user"]["user_id"] == str(user.id)
    assert {"parent_id", "created_date", "review_result", "message_tree_id"} <= set(message)


def test_user_messages_cursor_is_a_message_page(frontend):
    user = make_user(frontend.client_row)
    prompts = [make_tree(author=user) for _ in range(3)]
    page = frontend.get(f"users/{user.id}/messages/cursor", max_count=2).json()
    assert [m["id"] for m in page["items"]] == [str(p.id) for p in prompts[:2]]
    assert page["next"] and page["sort_key"] == "created_date"


def test_delete_user_messages_flags_replies_too(trusted_frontend):
    author, other = make_user(trusted_frontend.client_row), make_user(trusted_frontend.client_row)
    prompt = make_tree(author=author)
    reply = add_reply(prompt, author=other)
    assert trusted_frontend.delete(f"users/{author.id}/messages").status_code == 204
    assert set(Message.objects.filter(deleted=True).values_list("id", flat=True)) == {
        prompt.id,
        reply.id,
    }


def test_create_frontend_user_then_accept_tos(frontend):
    body = protocol_user("dora")
    created = frontend.post("frontend_users/", body)
    assert created.status_code == 200
    assert set(created.json()) == FRONTEND_USER_FIELDS
    assert created.json()["tos_acceptance_date"] is None
    again = frontend.post("frontend_users/", {**body, "tos_acceptance": True})
    assert again.json()["user_id"] == created.json()["user_id"]
    assert again.json()["tos_acceptance_date"] is not None


def test_system_frontend_user_accepts_tos_on_creation(frontend):
    # OA: system users get the acceptance date on creation; the request's own
    # show_on_leaderboard (default true) is then applied like any other setting.
    response = frontend.post("frontend_users/", protocol_user("importer", auth_method="system"))
    assert response.json()["tos_acceptance_date"] is not None


def test_get_frontend_user_by_auth_method_and_username(frontend):
    make_user(frontend.client_row, username="eve")
    assert frontend.get("frontend_users/local/eve").json()["id"] == "eve"
    missing = frontend.get("frontend_users/local/nobody")
    assert (missing.status_code, missing.json()["error_code"]) == (404, 4002)


def test_frontend_user_messages_lists_own_clients_user(frontend):
    user = make_user(frontend.client_row, username="fay")
    prompt = make_tree(author=user)
    messages = frontend.get("frontend_users/local/fay/messages").json()
    assert [m["id"] for m in messages] == [str(prompt.id)]
    page = frontend.get("frontend_users/local/fay/messages/cursor").json()
    assert [m["id"] for m in page["items"]] == [str(prompt.id)]


def test_delete_frontend_user_messages_is_trusted_only(frontend):
    make_user(frontend.client_row, username="gil")
    response = frontend.delete("frontend_users/local/gil/messages")
    assert (response.status_code, response.json()["error_code"]) == (403, 2)
    assert User.objects.filter(username="gil").exists()


@pytest.mark.parametrize("tos_acceptance", [0, 1, "yes"])
def test_a_frontend_user_tos_acceptance_that_is_not_a_json_boolean_is_refused(
    frontend, tos_acceptance
):
    body = {"id": "ada", "display_name": "Ada", "auth_method": "local"}
    response = frontend.post("frontend_users/", {**body, "tos_acceptance": tos_acceptance})
    assert response.status_code == 422
    assert "tos_acceptance" in response.json()["errors"]
