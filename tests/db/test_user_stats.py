"""Leaderboard, troll board, streak and cached-stats recomputation on hand-built scenarios.

Every expected number is worked out by hand from OA's formulas in the test's comments.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from backend.accounts.models import User
from backend.accounts.user_services import activity_update, record_user_activity
from backend.stats.models import CachedStats, TrollStats, UserStats
from backend.stats.services import (
    recompute_troll_stats,
    recompute_user_stats,
    update_cached_stats,
    update_streaks,
)
from backend.trees.models import Message, MessageReaction, MessageTree, Task, TextLabels
from tests.builders import add_reply, make_client, make_tree, make_user

pytestmark = pytest.mark.django_db


def _label(message, user, *, mode: str, labels=None):
    task = Task.objects.create(
        payload_type="label_assistant_reply",
        payload={"mode": mode, "message_id": str(message.id)},
        user=user,
        api_client=user.api_client,
        done=True,
    )
    return TextLabels.objects.create(
        message=message, user=user, api_client=user.api_client, task=task, labels=labels or {}
    )


@pytest.fixture
def scenario():
    client = make_client()
    alice, bob, carol, hidden = (make_user(client, username=n) for n in ("a", "b", "c", "d"))
    User.objects.filter(id=hidden.id).update(show_on_leaderboard=False)
    prompts = [make_tree(author=alice) for _ in range(11)]  # 11 prompts, all accepted
    root = prompts[0]
    b1 = add_reply(root, author=bob, review_result=True, rank=0)
    add_reply(root, author=bob, review_result=True, rank=1)
    add_reply(root, author=bob)  # not reviewed yet
    add_reply(root, author=alice, rank=2)  # not reviewed, ranked third
    add_reply(root, author=hidden, review_result=True)
    c1 = add_reply(b1, author=carol, review_result=True)
    _label(b1, carol, mode="simple")
    _label(c1, carol, mode="full")
    MessageReaction.objects.create(
        message=root,
        user=carol,
        api_client=client,
        payload_type="RankingReactionPayload",
        payload={"ranked_message_ids": []},
    )
    return {"alice": alice, "bob": bob, "carol": carol, "hidden": hidden}


def _stats(user, frame="total") -> UserStats:
    return UserStats.objects.get(user=user, time_frame=frame)


def test_leader_score_of_prompts_counts_a_tenth_truncated(scenario):
    recompute_user_stats("total")
    alice = _stats(scenario["alice"])
    # 11 prompts, 11 accepted: int(1.1) + int(1.1) = 2; one assistant reply (4) ranked
    # third (1): 2 + 4 + 1 = 7.
    assert (alice.prompts, alice.accepted_prompts, alice.reply_ranked_3) == (11, 11, 1)
    assert alice.leader_score == 7


def test_leader_score_of_replies_and_their_ranks(scenario):
    recompute_user_stats("total")
    bob = _stats(scenario["bob"])
    # 3 assistant replies * 4 + 2 accepted * 4 + ranked first * 9 + ranked second * 3 = 32
    assert (bob.replies_assistant, bob.accepted_replies_assistant) == (3, 2)
    assert (bob.reply_ranked_1, bob.reply_ranked_2) == (1, 1)
    assert bob.leader_score == 32


def test_leader_score_of_labels_by_task_mode_and_rankings(scenario):
    recompute_user_stats("total")
    carol = _stats(scenario["carol"])
    # prompter reply 1 + accepted 1 + simple label 1 + full label 2 + ranking 1 = 6
    assert (carol.labels_simple, carol.labels_full, carol.rankings_total) == (1, 1, 1)
    assert carol.leader_score == 6


def test_ranks_go_to_visible_users_by_score(scenario):
    recompute_user_stats("total")
    ranks = {name: _stats(user).rank for name, user in scenario.items()}
    # hidden scores 4 + 4 = 8 but is not on the leaderboard
    assert _stats(scenario["hidden"]).leader_score == 8
    assert ranks == {"bob": 1, "alice": 2, "carol": 3, "hidden": None}


def test_recompute_is_idempotent(scenario):
    recompute_user_stats("total")
    first = sorted(UserStats.objects.values_list("user_id", "leader_score", "rank"))
    recompute_user_stats("total")
    assert sorted(UserStats.objects.values_list("user_id", "leader_score", "rank")) == first


def test_day_frame_leaves_out_older_work():
    user = make_user()
    now = timezone.now()
    prompt = make_tree(author=make_user(user.api_client))
    add_reply(prompt, author=user, review_result=True, created_at=now - timedelta(days=2))
    recompute_user_stats("day", now=now)
    recompute_user_stats("week", now=now)
    assert not UserStats.objects.filter(user=user, time_frame="day").exists()
    assert _stats(user, "week").leader_score == 8


def test_troll_score_counts_flags_votes_spam_prompts_and_labels():
    client = make_client()
    troll, judge1, judge2 = (make_user(client) for _ in range(3))
    prompt = make_tree(author=troll, state="aborted_low_grade")
    Message.objects.filter(id=prompt.id).update(emojis={"+1": 2, "-1": 1, "red_flag": 2})
    _label(prompt, judge1, mode="full", labels={"pii": 1.0, "spam": 1.0, "quality": 0.2})
    _label(prompt, judge2, mode="full", labels={"lang_mismatch": 0.5, "quality": 0.6})
    recompute_troll_stats("total")
    row = TrollStats.objects.get(user=troll, time_frame="total")
    # red flags 2*3 - up 2 + down 1 + spam prompt 1 + lang_mismatch 1 (0.5 rounds up)
    # + pii 1 = 8; the spam label is counted but not scored.
    assert (row.red_flags, row.upvotes, row.downvotes, row.spam_prompts) == (2, 2, 1, 1)
    assert (row.spam, row.pii, row.lang_mismatch) == (1, 1, 1)
    assert row.quality == pytest.approx(0.4)
    assert (row.troll_score, row.rank) == (8, 1)


def test_streak_counts_whole_days_since_its_start():
    user = make_user()
    now = timezone.now()
    User.objects.filter(id=user.id).update(
        streak_days=0, streak_last_day_date=now - timedelta(days=3)
    )
    add_reply(make_tree(author=make_user(user.api_client)), author=user, created_at=now)
    update_streaks(now=now + timedelta(hours=1))
    user.refresh_from_db()
    assert (user.last_activity_date, user.streak_days) == (now, 3)


def test_streak_resets_after_a_day_without_work():
    user = make_user()
    now = timezone.now()
    User.objects.filter(id=user.id).update(
        streak_days=5,
        streak_last_day_date=now - timedelta(days=9),
        last_activity_date=now - timedelta(days=3),
    )
    update_streaks(now=now)
    user.refresh_from_db()
    assert (user.streak_days, user.streak_last_day_date) == (0, now)


def test_cached_stats_count_human_messages_and_trees():
    author = make_user()
    prompt = make_tree(author=author, lang="de")
    add_reply(prompt, author=author, review_result=True)
    add_reply(prompt, author=author, synthetic=True, review_result=True)
    names = update_cached_stats()
    assert len(names) == 5
    stats = {row.name: row.stats for row in CachedStats.objects.all()}
    assert stats["human_messages_by_lang"] == {"de": 2}
    assert stats["human_messages_by_role"] == {"prompter": 1, "assistant": 1}
    assert stats["message_trees_states_by_lang"] == [{"lang": "de", "state": "growing", "count": 1}]
    assert MessageTree.objects.count() == 1


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the one-statement stamp")
@pytest.mark.parametrize(
    "streak_start",
    [
        None,
        timedelta(hours=2),  # in the future: a new streak
        timedelta(0),
        -timedelta(hours=23, minutes=59, seconds=59, microseconds=999_999),
        -timedelta(days=1),
        -timedelta(days=1, microseconds=1),
        -timedelta(days=3, hours=23, minutes=59),
        -timedelta(days=400, seconds=1),
    ],
)
def test_the_activity_stamp_in_sql_is_record_user_activitys(streak_start):
    """``activity_update`` (sent with the task's lock) leaves the row as
    ``record_user_activity`` does, at the edges of whole days."""

    now = timezone.now()
    start = None if streak_start is None else now + streak_start
    fields = ("last_activity_date", "streak_last_day_date", "streak_days")
    outcomes = []
    for stamp in ("python", "sql"):
        user = make_user()
        User.objects.filter(id=user.id).update(streak_days=7, streak_last_day_date=start)
        if stamp == "python":
            record_user_activity(user_id=user.id, now=now)
        else:
            sql, params = activity_update(user.id, now)
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
        user.refresh_from_db()
        outcomes.append(tuple(getattr(user, name) for name in fields))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == now
