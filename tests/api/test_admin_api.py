"""/api/v1/admin/ (OA's admin router): clients, settings, purges, flagged messages, merges."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.accounts.models import ApiClient, User
from backend.trees.models import (
    FlaggedMessage,
    JournalEntry,
    Message,
    MessageEmoji,
    MessageReaction,
    MessageTree,
    TextLabels,
)
from tests.builders import add_reply, make_tree, make_user

pytestmark = pytest.mark.django_db

ADMIN_GETS = [
    "admin/backend_settings/full",
    "admin/flagged_messages",
    "admin/flagged_messages/cursor",
    "admin/tree_growth_config",
]
# Fixed ids (no row has them): parallel workers must collect the same test names.
UNKNOWN = "6f1d3c2a-9b7e-4e55-8a1f-2c4b5d6e7f80"
ADMIN_POSTS = [
    "admin/api_client",
    f"admin/purge_user/{UNKNOWN}",
    f"admin/purge_user/{UNKNOWN}/messages",
    f"admin/flagged_messages/{UNKNOWN}/processed",
    "admin/merge_users",
    "admin/tree_growth_config/rollback",
    f"admin/trees/{UNKNOWN}/halt",
    f"admin/trees/{UNKNOWN}/resume",
]
OA_PUBLIC_SETTINGS = {
    "PROJECT_NAME",
    "API_V1_STR",
    "MESSAGE_SIZE_LIMIT",
    "DEBUG_USE_SEED_DATA",
    "DEBUG_ALLOW_SELF_LABELING",
    "DEBUG_SKIP_EMBEDDING_COMPUTATION",
    "DEBUG_SKIP_TOXICITY_CALCULATION",
    "DEBUG_DATABASE_ECHO",
    "USER_STATS_INTERVAL_DAY",
    "USER_STATS_INTERVAL_WEEK",
    "USER_STATS_INTERVAL_MONTH",
    "USER_STATS_INTERVAL_TOTAL",
}


@pytest.mark.parametrize("path", ADMIN_GETS)
def test_untrusted_client_cannot_read_admin_endpoints(frontend, path):
    response = frontend.get(path)
    assert response.status_code == 403
    assert response.json()["error_code"] == 2


@pytest.mark.parametrize("path", ADMIN_POSTS)
def test_untrusted_client_cannot_call_admin_actions(frontend, path):
    response = frontend.post(path, {})
    assert response.status_code == 403
    assert response.json()["error_code"] == 2


def test_created_api_client_key_is_returned_once_and_works(trusted_frontend, client):
    body = {"description": "bot", "frontend_type": "discord", "admin_email": "ops@example.org"}
    response = trusted_frontend.post("admin/api_client", body)
    assert response.status_code == 200
    key = response.json()
    assert isinstance(key, str)
    created = ApiClient.objects.get(name="bot")
    assert created.frontend_type == "discord" and not created.trusted
    assert key not in created.api_key_digest
    check = client.get("/api/v1/auth/check", HTTP_X_API_KEY=key)
    assert check.status_code == 200 and check.json() == "ops@example.org"


def test_api_client_request_without_description_is_422(trusted_frontend):
    response = trusted_frontend.post("admin/api_client", {"frontend_type": "web"})
    assert response.status_code == 422
    assert "description" in response.json()["errors"]


def test_full_settings_show_config_and_no_secret(trusted_frontend, settings):
    settings.SECRET_KEY = "s3cret-django-key-value"
    settings.GROVE_BOOTSTRAP_API_KEY = "bootstrap-key-value-123"
    response = trusted_frontend.get("admin/backend_settings/full")
    assert response.status_code == 200
    body = response.json()
    assert body["tree_manager"]["max_tree_depth"] == 3
    assert set(body) >= OA_PUBLIC_SETTINGS
    text = response.content.decode()
    for secret in (settings.SECRET_KEY, settings.GROVE_BOOTSTRAP_API_KEY, settings.DATABASE_URL):
        assert secret not in text
    assert trusted_frontend.key not in text


def test_public_settings_have_oa_fields_for_any_client(frontend):
    response = frontend.get("admin/backend_settings/public")
    assert response.status_code == 200
    assert set(response.json()) == OA_PUBLIC_SETTINGS
    assert response.json()["API_V1_STR"] == "/api/v1"


def _troll_world(client_row):
    troll, good = make_user(client_row), make_user(client_row)
    troll_prompt = make_tree(author=troll)
    good_prompt = make_tree(author=good)
    troll_reply = add_reply(good_prompt, author=troll, review_result=True)
    below = add_reply(troll_reply, author=good)
    sibling = add_reply(good_prompt, author=good, review_result=True)
    return troll, good, troll_prompt, good_prompt, troll_reply, below, sibling


def test_purge_preview_reports_counts_and_changes_nothing(trusted_frontend):
    troll, *_ = _troll_world(trusted_frontend.client_row)
    response = trusted_frontend.post(f"admin/purge_user/{troll.id}")
    assert response.status_code == 200
    body = response.json()
    assert body["preview"] is True
    assert set(body["before"]) == {"all", "active", "active_by_lang", "deleted", "message_trees"}
    assert body["before"]["active"] == 5
    assert body["after"]["active"] == 2  # the good tree keeps its prompt and the sibling
    assert Message.objects.filter(deleted=True).count() == 0
    assert User.objects.get(id=troll.id).enabled


def test_purge_user_halts_their_trees_deletes_replies_and_bans(
    trusted_frontend, django_capture_on_commit_callbacks
):
    troll, _good, troll_prompt, good_prompt, troll_reply, below, sibling = _troll_world(
        trusted_frontend.client_row
    )
    TextLabels.objects.create(
        message=sibling, user=troll, api_client=troll.api_client, labels={"spam": 1.0}
    )
    MessageEmoji.objects.create(message=sibling, user=troll, emoji="-1")
    Message.objects.filter(id=sibling.id).update(emojis={"-1": 1})
    with django_capture_on_commit_callbacks(execute=False):
        response = trusted_frontend.post(f"admin/purge_user/{troll.id}", preview="false")
    assert response.status_code == 200 and response.json()["preview"] is False
    assert MessageTree.objects.get(id=troll_prompt.id).state == "halted_by_moderator"
    assert Message.objects.get(id=troll_reply.id).deleted
    assert Message.objects.get(id=below.id).deleted
    assert not Message.objects.get(id=sibling.id).deleted
    assert Message.objects.get(id=good_prompt.id).children_count == 1
    assert Message.objects.get(id=sibling.id).emojis == {}
    assert not TextLabels.objects.filter(user=troll).exists()
    banned = User.objects.get(id=troll.id)
    assert not banned.enabled and banned.deleted
    assert JournalEntry.objects.filter(event_type="user_purged", user_id=troll.id).exists()


def test_purge_messages_keeps_prompts_unless_asked_and_voids_rankings(trusted_frontend):
    troll, good, troll_prompt, good_prompt, troll_reply, _below, sibling = _troll_world(
        trusted_frontend.client_row
    )
    MessageReaction.objects.create(
        message=good_prompt,
        user=good,
        api_client=good.api_client,
        payload_type="RankingReactionPayload",
        payload={"ranking": [0, 1], "ranked_message_ids": [str(troll_reply.id), str(sibling.id)]},
    )
    Message.objects.filter(parent=good_prompt).update(ranking_count=1)
    response = trusted_frontend.post(f"admin/purge_user/{troll.id}/messages", preview="false")
    assert response.status_code == 200
    assert not Message.objects.get(id=troll_prompt.id).deleted
    assert MessageTree.objects.get(id=troll_prompt.id).state == "growing"
    assert Message.objects.get(id=troll_reply.id).deleted
    assert not MessageReaction.objects.filter(message=good_prompt).exists()
    assert Message.objects.get(id=sibling.id).ranking_count == 0
    assert User.objects.get(id=troll.id).enabled


def test_purge_messages_respects_the_date_range(trusted_frontend):
    troll, _, _, _, troll_reply, *_ = _troll_world(trusted_frontend.client_row)
    Message.objects.filter(id=troll_reply.id).update(created_at=timezone.now() - timedelta(days=9))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    response = trusted_frontend.post(
        f"admin/purge_user/{troll.id}/messages", preview="false", min_date=since
    )
    assert response.status_code == 200
    assert not Message.objects.get(id=troll_reply.id).deleted


def test_purge_of_unknown_user_is_404(trusted_frontend):
    response = trusted_frontend.post(f"admin/purge_user/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["error_code"] == 4002


def _flag(message, minutes_ago):
    return FlaggedMessage.objects.create(
        message=message, created_at=timezone.now() - timedelta(minutes=minutes_ago)
    )


def test_flagged_messages_list_and_processing(trusted_frontend):
    author = make_user(trusted_frontend.client_row)
    prompt = make_tree(author=author)
    _flag(prompt, 5)
    listed = trusted_frontend.get("admin/flagged_messages", max_count=10)
    assert listed.status_code == 200
    assert listed.json() == [
        {
            "message_id": str(prompt.id),
            "processed": False,
            "created_date": listed.json()[0]["created_date"],
        }
    ]
    done = trusted_frontend.post(f"admin/flagged_messages/{prompt.id}/processed")
    assert done.status_code == 200 and done.json()["processed"] is True
    assert FlaggedMessage.objects.get(message=prompt).processed


def test_processing_an_unflagged_message_is_404(trusted_frontend):
    response = trusted_frontend.post(f"admin/flagged_messages/{uuid.uuid4()}/processed")
    assert response.status_code == 404
    assert response.json()["error_code"] == 2001


def test_flagged_cursor_pages_through_the_queue(trusted_frontend):
    author = make_user(trusted_frontend.client_row)
    flags = [_flag(make_tree(author=author), minutes_ago=10 - i) for i in range(5)]
    first = trusted_frontend.get("admin/flagged_messages/cursor", max_count=2).json()
    assert first["sort_key"] == "created_date" and first["order"] == "asc"
    assert [i["message_id"] for i in first["items"]] == [str(f.message_id) for f in flags[:2]]
    assert first["prev"] is None and first["next"]
    second = trusted_frontend.get(
        "admin/flagged_messages/cursor", max_count=2, after=first["next"]
    ).json()
    assert [i["message_id"] for i in second["items"]] == [str(f.message_id) for f in flags[2:4]]
    assert second["prev"] and second["next"]


def test_flagged_cursor_rejects_a_bad_cursor(trusted_frontend):
    response = trusted_frontend.get("admin/flagged_messages/cursor", after="yesterday")
    assert response.status_code == 400
    assert response.json()["error_code"] == 101


def test_merge_users_moves_work_and_drops_duplicates(trusted_frontend):
    keep, dup = make_user(trusted_frontend.client_row), make_user(trusted_frontend.client_row)
    prompt = make_tree(author=dup)
    other = make_tree(author=make_user(trusted_frontend.client_row))
    for user in (keep, dup):
        MessageEmoji.objects.create(message=other, user=user, emoji="+1")
    Message.objects.filter(id=other.id).update(emojis={"+1": 2})
    body = {"destination_user_id": str(keep.id), "source_user_ids": [str(dup.id), str(keep.id)]}
    response = trusted_frontend.post("admin/merge_users", body)
    assert response.status_code == 204
    assert Message.objects.get(id=prompt.id).user_id == keep.id
    assert MessageEmoji.objects.filter(message=other).count() == 1
    assert Message.objects.get(id=other.id).emojis == {"+1": 1}
    assert not User.objects.filter(id=dup.id).exists()


def test_merge_into_unknown_user_is_404_and_changes_nothing(trusted_frontend):
    dup = make_user(trusted_frontend.client_row)
    body = {"destination_user_id": str(uuid.uuid4()), "source_user_ids": [str(dup.id)]}
    response = trusted_frontend.post("admin/merge_users", body)
    assert response.status_code == 404 and response.json()["error_code"] == 4002
    assert User.objects.filter(id=dup.id).exists()


@pytest.mark.parametrize("destination", [False, 0, 12345])
def test_merge_users_refuses_a_user_id_that_is_not_a_uuid_string(trusted_frontend, destination):
    # DRF's UUIDField reads an integer (and so a boolean) as UUID(int=...).
    body = {"destination_user_id": destination, "source_user_ids": []}
    response = trusted_frontend.post("admin/merge_users", body)
    assert response.status_code == 422
    assert "destination_user_id" in response.json()["errors"]


@pytest.mark.parametrize("trusted", [0, 1, "true"])
def test_an_api_client_trusted_flag_that_is_not_a_json_boolean_is_refused(
    trusted_frontend, trusted
):
    body = {"description": "bot", "frontend_type": "discord", "trusted": trusted}
    response = trusted_frontend.post("admin/api_client", body)
    assert response.status_code == 422
    assert "trusted" in response.json()["errors"]
    assert not ApiClient.objects.filter(name="bot").exists()
