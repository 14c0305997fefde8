"""The ready-work index's reads: the compiled eligible query is the ORM query, values swapped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.trees import ready_work
from backend.trees.core.policy import TaskKind
from backend.trees.growth_config import active_config
from backend.trees.services.tasks import request_task
from tests.builders import add_reply, make_client, make_tree, make_user

pytestmark = pytest.mark.django_db


def ids(rows):
    return [(row.id, getattr(row, "pending", None)) for row in rows]


def test_compiled_eligible_query_returns_what_the_orm_query_returns():
    client = make_client()
    author, replier, reviewer = make_user(client), make_user(client), make_user(client)
    prompt = make_tree(author=author)
    add_reply(prompt, author=replier)
    make_tree(author=author, lang="de")
    request_task(user=reviewer, kind=TaskKind.LABEL_ASSISTANT_REPLY, lang="en")
    config, now = active_config(), timezone.now()
    since = now - timedelta(seconds=config.recent_tasks_span_sec)

    for user in (author, replier, reviewer, None):
        user_id = user.id if user else None
        compiled = ready_work.eligible(lang="en", now=now, config=config, user_id=user_id)
        direct = ready_work._eligible_query(lang="en", now=now, since=since, user_id=user_id)
        assert ids(compiled) == ids(direct)
    # the per-user values really reach the statement: nobody works on their own message
    kinds = {
        user: {
            row.kind
            for row in ready_work.eligible(lang="en", now=now, config=config, user_id=user.id)
        }
        for user in (author, replier)
    }
    assert "assistant_reply" not in kinds[author]
    assert "label_assistant_reply" in kinds[author]
    assert "label_assistant_reply" not in kinds[replier]
