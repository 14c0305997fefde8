"""Contract tests of /stats/, /leaderboards/, /trollboards/ and /users/{id}/stats against OA's
protocol (SystemStats, TreeManagerStats, CachedStats*, LeaderboardStats, TrollboardStats)."""

from __future__ import annotations

import pytest

from backend.accounts.models import User
from backend.stats.services import recompute_troll_stats, recompute_user_stats
from tests.builders import add_reply, make_tree, make_user

pytestmark = pytest.mark.django_db


def _ranked_users(client, names_and_replies):
    users = {}
    prompt = make_tree(author=make_user(client))
    for name, replies in names_and_replies:
        users[name] = make_user(client, username=name)
        for _ in range(replies):
            add_reply(prompt, author=users[name])
    recompute_user_stats("total")
    return users


def test_leaderboard_ranks_own_users_and_highlights_caller(frontend, make_frontend):
    users = _ranked_users(frontend.client_row, [("ann", 2), ("ben", 1)])
    _ranked_users(make_frontend().client_row, [("zed", 5)])
    response = frontend.get("leaderboards/total", user="local:ben")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"time_frame", "last_updated", "leaderboard"}
    rows = [(r["username"], r["leader_score"], r["highlighted"]) for r in body["leaderboard"]]
    assert rows[:2] == [("ann", 8, False), ("ben", 4, True)]
    assert all(r["username"] != "zed" for r in body["leaderboard"])
    assert body["leaderboard"][0]["rank"] == 2  # the other client's zed is first overall
    assert str(users["ann"].id) == body["leaderboard"][0]["user_id"]


def test_leaderboard_rejects_unknown_time_frame(frontend):
    response = frontend.get("leaderboards/year")
    assert (response.status_code, response.json()["error_code"]) == (422, 0)


def test_user_stats_has_every_time_frame(frontend):
    users = _ranked_users(frontend.client_row, [("ann", 1)])
    body = frontend.get(f"users/{users['ann'].id}/stats").json()
    assert set(body) == {"day", "week", "month", "total"}
    assert body["total"]["leader_score"] == 4 and body["day"]["leader_score"] == 0
    one = frontend.get(f"users/{users['ann'].id}/stats/total").json()
    assert (one["rank"], one["replies_assistant"], one["level"]) == (1, 1, 1)  # score 4


def test_leaderboard_window_surrounds_the_user(frontend):
    names = [("a", 5), ("b", 4), ("c", 3), ("d", 2), ("e", 1)]
    users = _ranked_users(frontend.client_row, names)
    window = frontend.get(f"users/{users['d'].id}/stats/total/window", window_size=2).json()
    assert [r["username"] for r in window["leaderboard"]] == ["c", "d", "e"]
    assert [r["highlighted"] for r in window["leaderboard"]] == [False, True, False]


def test_window_is_null_for_hidden_user(frontend):
    users = _ranked_users(frontend.client_row, [("a", 1)])
    User.objects.filter(id=users["a"].id).update(show_on_leaderboard=False)
    response = frontend.get(f"users/{users['a'].id}/stats/total/window")
    assert (response.status_code, response.json()) == (200, None)


def test_trollboard_is_for_trusted_clients(frontend):
    response = frontend.get("trollboards/total")
    assert (response.status_code, response.json()["error_code"]) == (403, 2)


def test_trollboard_uses_oa_field_names(trusted_frontend):
    troll = make_user(trusted_frontend.client_row)
    make_tree(author=troll, state="aborted_low_grade")
    recompute_troll_stats("total")
    [row] = trusted_frontend.get("trollboards/total").json()["trollboard"]
    assert (row["troll_score"], row["spam_prompts"], row["rank"]) == (1, 1, 1)
    assert "lang_mismach" in row and "enabled" in row


def test_system_stats_counts_messages(trusted_frontend, frontend):
    prompt = make_tree(author=make_user(trusted_frontend.client_row), lang="fr")
    add_reply(prompt, author=prompt.user, deleted=True)
    assert frontend.get("stats/").status_code == 403
    body = trusted_frontend.get("stats/").json()
    assert body == {
        "all": 2,
        "active": 1,
        "active_by_lang": {"fr": 1},
        "deleted": 1,
        "message_trees": 1,
    }


def test_tree_manager_stats_shape(trusted_frontend):
    prompt = make_tree(author=make_user(trusted_frontend.client_row))
    add_reply(prompt, author=prompt.user)
    body = trusted_frontend.get("stats/tree_manager").json()
    assert body["state_counts"] == {"growing": 1}
    [counts] = body["message_counts"]
    assert (counts["message_tree_id"], counts["count"], counts["depth"]) == (str(prompt.id), 2, 1)
    assert set(counts) == {
        "message_tree_id",
        "state",
        "depth",
        "oldest",
        "youngest",
        "count",
        "goal_tree_size",
    }
    assert trusted_frontend.get("stats/tree_manager/state_counts").json() == {"growing": 1}


def test_cached_stats_not_available_until_updated(frontend, trusted_frontend):
    missing = frontend.get("stats/cached/users_accepted_tos")
    assert (missing.status_code, missing.json()["error_code"]) == (400, 6000)
    assert frontend.post("stats/cached/update").status_code == 403
    assert trusted_frontend.post("stats/cached/update").status_code == 204
    one = frontend.get("stats/cached/users_accepted_tos").json()
    assert (one["name"], one["stats"]) == ("users_accepted_tos", {"count": 0})
    every = frontend.get("stats/cached").json()["stats_by_name"]
    assert len(every) == 5


def test_unknown_cached_stats_name_is_a_validation_error(frontend):
    assert frontend.get("stats/cached/everything").status_code == 422


# --- OA's leaderboard updates (POST /leaderboards/update[/{time_frame}]) --------------------


def _replies_without_stats(client):
    prompt = make_tree(author=make_user(client, username="ann"))
    add_reply(prompt, author=make_user(client, username="ben"))


def test_leaderboard_update_of_one_time_frame_rebuilds_only_it(trusted_frontend):
    _replies_without_stats(trusted_frontend.client_row)
    response = trusted_frontend.post("leaderboards/update/week")
    assert response.status_code == 204 and response.content == b""
    week = trusted_frontend.get("leaderboards/week").json()["leaderboard"]
    assert {row["username"] for row in week} == {"ann", "ben"}
    assert trusted_frontend.get("leaderboards/day").json()["leaderboard"] == []


def test_leaderboard_update_rebuilds_every_time_frame(trusted_frontend):
    _replies_without_stats(trusted_frontend.client_row)
    assert trusted_frontend.post("leaderboards/update").status_code == 204
    for time_frame in ("day", "week", "month", "total"):
        rows = trusted_frontend.get(f"leaderboards/{time_frame}").json()["leaderboard"]
        assert len(rows) == 2, time_frame


def test_leaderboard_update_needs_a_trusted_client_and_a_known_time_frame(
    frontend, trusted_frontend
):
    assert frontend.post("leaderboards/update").status_code == 403
    assert frontend.post("leaderboards/update/week").status_code == 403
    assert trusted_frontend.post("leaderboards/update/decade").status_code == 422
