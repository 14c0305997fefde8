"""A claim refused inside a caller's transaction leaves no row lock behind.

A new user's first task request runs inside a transaction (``user_for_request`` keeps the new
row only if the request succeeds). A refused claim attempt kept its row locks until that
transaction ended while the request tried other candidates, and two such requests deadlocked
on each other's rows (PostgreSQL logged ``deadlock detected`` between grove_claim calls)."""

from __future__ import annotations

import random
import threading

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from backend.trees import work_queries
from backend.trees.core import policy
from backend.trees.core.policy import TaskKind
from backend.trees.growth_config import active_config
from backend.trees.services import tasks
from backend.trees.services.tasks import request_task
from tests.builders import make_client, make_tree, make_user

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        "connection.vendor != 'postgresql'", reason="SQLite has no row locks to hold"
    ),
]
KIND = TaskKind.LABEL_INITIAL_PROMPT


def _row_is_free(row_id: int) -> bool:
    """Whether another connection can lock the ready-work row at once."""
    outcome: list[bool] = []

    def probe():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM trees_readywork WHERE id = %s FOR UPDATE NOWAIT", [row_id]
                )
            outcome.append(True)
        except OperationalError:
            outcome.append(False)
        finally:
            connection.close()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(timeout=30)
    return outcome == [True]


@pytest.mark.parametrize("in_database", [True, False], ids=["grove_claim", "step_by_step"])
def test_a_refused_claim_in_a_transaction_releases_its_row(settings, in_database):
    settings.GROVE_CLAIM_IN_DATABASE = in_database
    client = make_client()
    make_tree(author=make_user(client), state="initial_prompt_review", review_result=None)
    late = make_user(client)
    config, now = active_config(), timezone.now()
    rows = work_queries.eligible(lang="en", now=now, config=config, user_id=late.id, kind=KIND)
    for _ in range(config.num_reviews_initial_prompt):  # the others take every review slot
        request_task(user=make_user(client), kind=KIND, lang="en")
    chosen = policy.choose_eligible_task(
        KIND, work_queries.as_candidates(rows), config, random.Random(1)
    )
    row = next(r for r in rows if r.node_id is not None and r.kind == KIND.value)
    claim = tasks._ClaimFor(
        user=late,
        api_client=late.api_client,
        api_client_id=late.api_client_id,
        lang="en",
        config=config,
        rng=random.Random(1),
        now=now,
        explicit=True,
    )
    with transaction.atomic():
        assert tasks._claim(chosen, row, claim) is None  # every slot is taken
        assert _row_is_free(row.id)


def test_refresh_lang_locks_the_initial_prompt_row_only_when_its_count_changes():
    """An advance that leaves a language's count of prompts to ask for as it was writes
    nothing to its initial-prompt row: every advance of the language's trees would otherwise
    queue on that one row until its transaction ends."""
    from backend.trees import ready_work
    from backend.trees.models import MessageTree, ReadyWork

    make_tree(author=make_user(make_client()), state="growing")
    config = active_config()
    row = ReadyWork.objects.get(lang="en", kind=TaskKind.INITIAL_PROMPT.value, node__isnull=True)
    with transaction.atomic():
        ready_work.refresh_lang("en", config)  # nothing changed since make_tree's refresh
        assert _row_is_free(row.id)
        MessageTree.objects.create(
            state="growing", lang="en", goal_tree_size=12, max_depth=3, max_children_count=3
        )
        ready_work.refresh_lang("en", config)
        row_after = ReadyWork.objects.get(id=row.id)
        assert row_after.slots != row.slots  # one more growing tree: one prompt fewer
        assert not _row_is_free(row.id)
