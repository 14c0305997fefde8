"""What the index folds (trees 0017-0019, accounts 0003-0004) are for, measured inside the test's
transaction (``pg_stat_xact_user_tables``): the user's activity stamp is a HOT update, and the
task request's "already answered this parent" check reads the user's replies under that
parent, not every message of the user, on tables never analyzed (a new deployment, or a
server without autovacuum)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from backend.accounts.user_services import record_user_activity
from backend.trees import work_queries
from backend.trees.core.policy import TaskKind
from backend.trees.growth_config import active_config
from tests.builders import make_client, make_tree, make_user

pytestmark = pytest.mark.django_db

USERS_OTHER_MESSAGES = 3_000

_INSERT_PROMPTS = """
INSERT INTO trees_message (id, message_tree_id, parent_id, role, text, lang, depth,
    children_count, review_count, review_result, ranking_count, deleted, synthetic, edited,
    model_name, emojis, user_id, api_client_id, frontend_message_id, created_at)
SELECT gen_random_uuid(), %(tree)s, NULL, 'prompter', 'an earlier prompt ' || i, 'en', 0,
    0, 0, true, 0, false, false, false, '', '{}', %(user)s, %(client)s, 'earlier-' || i, now()
FROM generate_series(1, %(n)s) AS i
"""


def _counts(cursor, table: str) -> dict[str, int]:
    cursor.execute(
        "SELECT coalesce(n_tup_upd, 0), coalesce(n_tup_hot_upd, 0),"
        " coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)"
        " FROM pg_stat_xact_user_tables WHERE relname = %s",
        [table],
    )
    row = cursor.fetchone() or (0, 0, 0)
    return {"updated": int(row[0]), "hot": int(row[1]), "read": int(row[2])}


def test_a_users_activity_stamp_is_a_hot_update():
    user = make_user()
    with connection.cursor() as cursor:
        before = _counts(cursor, "accounts_user")
        for _ in range(3):
            record_user_activity(user_id=user.id)
        after = _counts(cursor, "accounts_user")
    updated = after["updated"] - before["updated"]
    assert updated == 3
    # No index holds the columns it writes: each update stays on its page, no index written.
    assert after["hot"] - before["hot"] == updated


def test_the_already_answered_check_does_not_read_every_message_of_the_user():
    client = make_client()
    author, volunteer = make_user(client, username="author"), make_user(client, username="vol")
    for _ in range(4):
        make_tree(author=author)  # growing trees whose prompts need assistant replies
    elsewhere = make_tree(author=author, state="ready_for_export")
    now = timezone.now()
    with connection.cursor() as cursor:
        # The volunteer's history: many messages elsewhere, none under these parents.
        cursor.execute(
            _INSERT_PROMPTS,
            {
                "tree": elsewhere.message_tree_id,
                "user": volunteer.id,
                "client": client.id,
                "n": USERS_OTHER_MESSAGES,
            },
        )
        before = _counts(cursor, "trees_message")
        rows = work_queries.eligible(
            lang="en",
            now=now,
            config=active_config(),
            user_id=volunteer.id,
            kind=TaskKind.ASSISTANT_REPLY,
            sample=True,
            start=0.5,
        )
        read = _counts(cursor, "trees_message")["read"] - before["read"]
    assert sum(row.kind == TaskKind.ASSISTANT_REPLY.value for row in rows) == 4
    # The task request's read (the claim's conversation read is not counted here): the
    # volunteer's replies under each row's parent, through (parent, user).
    assert read < 100, f"the sampled read read {read} message rows"
