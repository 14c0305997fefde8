"""The task cycle's common paths in few statements on PostgreSQL, with the effects of the
step-by-step paths they shortcut."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.accounts.models import User
from backend.trees.core.policy import TaskKind
from backend.trees.errors import InvalidLabels, InvalidRanking
from backend.trees.growth_config import update_config
from backend.trees.models import JournalEntry, Message, MessageReaction, Task, TextLabels
from backend.trees.services.interactions import submit_labels, submit_ranking, submit_text_reply
from backend.trees.services.task_lifecycle import _ack_checked, ack_task
from backend.trees.services.tasks import request_task
from tests.builders import GOOD_REVIEW, make_client, make_ranking_tree, make_tree, make_user
from tests.db.test_task_reservation import _grow_forest

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="the one-statement paths are PostgreSQL's"
)


def _journal(event_type: str, task: Task) -> tuple:
    entry = JournalEntry.objects.get(event_type=event_type, user_id=task.user_id)
    return (
        entry.message_tree_id,
        entry.message_id,
        entry.api_client_id,
        entry.actor,
        entry.payload,
    )


def _review_tasks(count: int):
    client = make_client()
    prompt = make_tree(author=make_user(client), state="initial_prompt_review", review_result=None)
    users = [make_user(client) for _ in range(count)]
    tasks = [
        request_task(user=user, kind=TaskKind.LABEL_INITIAL_PROMPT, lang="en") for user in users
    ]
    return prompt, users, tasks


@postgres_only
def test_an_ack_in_order_is_one_statement_with_the_checked_paths_effects():
    _prompt, users, (fast, checked) = _review_tasks(2)
    with CaptureQueriesContext(connection) as sent:
        ack_task(task_id=fast.id, user=users[0], frontend_message_id="fm-fast")
    assert len(sent.captured_queries) == 1
    _ack_checked(
        task_id=checked.id,
        frontend_message_id="fm-checked",
        user=users[1],
        client_id=users[1].api_client_id,
        now=timezone.now(),
    )
    for task, frontend_id in ((fast, "fm-fast"), (checked, "fm-checked")):
        task.refresh_from_db()
        assert (task.ack, task.frontend_message_id) == (True, frontend_id)
        assert task.lease_until == task.expiry_date
    assert _journal("task_acked", fast) == _journal("task_acked", checked)


@postgres_only
def test_a_review_sends_its_writes_as_one_statement():
    prompt, users, (task,) = _review_tasks(1)
    with CaptureQueriesContext(connection) as sent:
        submit_labels(task_id=task.id, user=users[0], message_id=prompt.id, labels=GOOD_REVIEW)
    statements = [q["sql"] for q in sent.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 3, [sql[:80] for sql in statements]
    lock, target, writes = statements
    # The user's activity goes with the task's lock (one round trip, the task locked first),
    assert lock.startswith("WITH grove_first AS (UPDATE accounts_user SET last_activity_date")
    assert 'FROM "trees_task"' in lock and lock.endswith("FOR NO KEY UPDATE")
    assert target.endswith("FOR SHARE OF t")
    # and the review's own writes in one statement after its checks.
    for table in ("trees_textlabels", "trees_journalentry", "trees_readywork"):
        assert table in writes
    assert "accounts_user" not in writes
    assert TextLabels.objects.filter(message_id=prompt.id, user=users[0], task_id=task.id).exists()
    task.refresh_from_db()
    prompt.refresh_from_db()
    assert task.done and prompt.review_count == 1
    users[0].refresh_from_db()
    assert users[0].last_activity_date is not None


def _forest_claimed_in_database(settings) -> User:
    """Claims through ``grove_claim``, a small growing forest, and a user of its client; a
    first request has read the configuration, so the next one's statements are its own."""
    settings.GROVE_CLAIM_IN_DATABASE = True
    client = make_client()
    _grow_forest(3, client)
    user = make_user(client)
    request_task(user=make_user(client), kind=TaskKind.RANDOM, lang="en")  # reads the config
    return user


@postgres_only
def test_first_review_routing_reads_the_reviewers_estimate_in_one_more_statement(settings):
    update_config(changes={"first_review_min_informativeness": 0.5}, author="test")
    user = _forest_claimed_in_database(settings)
    with CaptureQueriesContext(connection) as ctx:
        request_task(user=user, kind=TaskKind.RANDOM, lang="en")
    statements = [q["sql"] for q in ctx.captured_queries]
    assert len(statements) == 3, [sql[:80] for sql in statements]
    assert sum("trees_reviewerreliability" in sql for sql in statements) == 1
    # A request for a kind that is not a review never needs the estimate.
    with CaptureQueriesContext(connection) as ctx:
        request_task(user=make_user(user.api_client), kind=TaskKind.ASSISTANT_REPLY, lang="en")
    assert not any("trees_reviewerreliability" in q["sql"] for q in ctx.captured_queries)


@postgres_only
def test_a_claim_in_the_database_is_one_statement(settings):
    user = _forest_claimed_in_database(settings)
    with CaptureQueriesContext(connection) as ctx:
        task = request_task(user=user, kind=TaskKind.RANDOM, lang="en")
    claims = [q["sql"] for q in ctx.captured_queries if "grove_claim" in q["sql"]]
    assert len(claims) == 1
    # The eligible work (with the active configuration's identity), the claim: nothing else.
    assert len(ctx.captured_queries) == 2, [q["sql"][:80] for q in ctx.captured_queries]
    stored = Task.objects.get(id=task.id)
    assert (stored.payload, stored.user_id, stored.parent_message_id) == (
        task.payload,
        task.user_id,
        task.parent_message_id,
    )
    assert stored.created_at == task.created_at and stored.lease_until == task.lease_until


@postgres_only
def test_a_reply_sends_its_writes_before_the_index_as_one_statement():
    """The message, the parent's count and the task's close: one statement after the
    checks, before the ready-work index reads the tree (the activity stamp went with the
    task's lock, the first statement)."""
    client = make_client()
    prompt = make_tree(author=make_user(client))
    writer = make_user(client)
    task = request_task(user=writer, kind=TaskKind.ASSISTANT_REPLY, lang="en")
    ack_task(task_id=task.id, user=writer, frontend_message_id="fm-reply-task")
    with CaptureQueriesContext(connection) as sent:
        reply = submit_text_reply(
            task_id=task.id, user=writer, text="Start with two balls.", frontend_message_id="fm-r"
        )
    sqls = [q["sql"] for q in sent.captured_queries]
    # (The index's own refresh is a batch of its writes too.)
    batched = [
        sql for sql in sqls if sql.startswith("WITH grove_w0") and "trees_readywork" not in sql
    ]
    assert len(batched) == 1, sqls
    for table in ("trees_message", "trees_task"):
        assert f'"{table}"' in batched[0]
    stamps = [i for i, sql in enumerate(sqls) if sql.startswith("WITH grove_first AS (UPDATE")]
    assert len(stamps) == 1 and '"trees_task"' in sqls[stamps[0]]
    assert stamps[0] < sqls.index(batched[0])
    assert not any(sql.startswith('INSERT INTO "trees_message"') for sql in sqls)
    # Written before the index was refreshed: the index read after it sees the new reply.
    first_index_read = next(i for i, sql in enumerate(sqls) if "trees_readywork" in sql)
    assert sqls.index(batched[0]) < first_index_read
    stored = Message.objects.get(id=reply.id)
    assert (stored.parent_id, stored.task_id, stored.user_id) == (prompt.id, task.id, writer.id)
    prompt.refresh_from_db()
    task.refresh_from_db()
    assert prompt.children_count == 1 and task.done
    assert User.objects.get(id=writer.id).last_activity_date is not None


@postgres_only
def test_a_push_claim_reads_the_user_then_claims_as_a_task_request_does(settings):
    """``claim_for_push``: the user's row, the eligible work, the claim; the API client's
    row is not read (nothing on the claim's path uses more than its id, which the user row
    holds)."""
    from frontend_api.ws.dispatch import claim_for_push

    user = _forest_claimed_in_database(settings)
    with CaptureQueriesContext(connection) as ctx:
        task_id, wire = claim_for_push(user_id=str(user.id), kind="random", lang="en")
    statements = [q["sql"] for q in ctx.captured_queries]
    assert not any("accounts_apiclient" in sql for sql in statements), statements
    task = Task.objects.get(id=task_id)
    assert (task.user_id, task.api_client_id, wire["id"]) == (user.id, user.api_client_id, task_id)


@postgres_only
def test_a_refused_answer_leaves_no_activity_stamp_nor_any_write():
    """The activity stamp is sent with the task's lock, before the answer's own checks: an
    answer those checks refuse (labels out of range, a ranking that is no permutation)
    rolls it back with everything else. Nothing of the answer is written."""
    client = make_client()
    prompt = make_tree(author=make_user(client), state="initial_prompt_review", review_result=None)
    reviewer = make_user(client)
    review_task = request_task(user=reviewer, kind=TaskKind.LABEL_INITIAL_PROMPT, lang="en")
    with pytest.raises(InvalidLabels):
        submit_labels(
            task_id=review_task.id,
            user=reviewer,
            message_id=prompt.id,
            labels={**GOOD_REVIEW, "spam": 7.0},
        )
    ranked = make_ranking_tree(author=make_user(client), repliers=[make_user(client)] * 2)
    ranker = make_user(client)
    rank_task = request_task(user=ranker, kind=TaskKind.RANK_ASSISTANT_REPLIES, lang="en")
    with pytest.raises(InvalidRanking):
        submit_ranking(task_id=rank_task.id, user=ranker, ranking=[0, 0])
    for user, task in ((reviewer, review_task), (ranker, rank_task)):
        user.refresh_from_db()
        task.refresh_from_db()
        assert user.last_activity_date is None and user.streak_days is None
        assert not task.done
    assert not TextLabels.objects.filter(message_id=prompt.id).exists()
    assert not MessageReaction.objects.filter(message_id=ranked.id).exists()
    assert sorted(
        Message.objects.filter(parent_id=ranked.id).values_list("ranking_count", flat=True)
    ) == [0, 0]
