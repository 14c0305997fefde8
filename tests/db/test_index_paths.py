"""What the index folds (trees 0017-0019, accounts 0003-0004) are for, measured inside the test's
transaction (``pg_stat_xact_user_tables``): the user's activity stamp is a HOT update, and the
task request's "already answered this parent" check reads the user's replies under that
parent, not every message of the user, on tables never analyzed (a new deployment, or a
server without autovacuum)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backend.accounts.user_services import record_user_activity
from backend.trees import work_queries
from backend.trees.core.policy import TaskKind
from backend.trees.growth_config import active_config
from tests.builders import make_client, make_tree, make_user
from tests.bulk_rows import insert_prompts, rows_read, table_counts

pytestmark = pytest.mark.django_db

USERS_OTHER_MESSAGES = 3_000


def test_a_users_activity_stamp_is_a_hot_update():
    user = make_user()
    before = table_counts("accounts_user")
    for _ in range(3):
        record_user_activity(user_id=user.id)
    after = table_counts("accounts_user")
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
    # The volunteer's history: many messages elsewhere, none under these parents.
    insert_prompts(tree_id=elsewhere.message_tree_id, user=volunteer, n=USERS_OTHER_MESSAGES)
    before = rows_read("trees_message")
    rows = work_queries.eligible(
        lang="en",
        now=now,
        config=active_config(),
        user_id=volunteer.id,
        kind=TaskKind.ASSISTANT_REPLY,
        sample=True,
        start=0.5,
    )
    read = rows_read("trees_message") - before
    assert sum(row.kind == TaskKind.ASSISTANT_REPLY.value for row in rows) == 4
    # The task request's read (the claim's conversation read is not counted here): the
    # volunteer's replies under each row's parent, through (parent, user).
    assert read < 100, f"the sampled read read {read} message rows"
