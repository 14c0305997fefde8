"""The claim brings the task's conversation back in its own statement (issue 8): what a
task shows rendered from those rows is what a separate read of the conversation shows."""

from __future__ import annotations

import pytest

from backend.trees.core.task_kinds import TaskKind
from backend.trees.models import MessageEmoji, Task
from backend.trees.services import tasks
from frontend_api.v1.protocol import render_task
from tests.builders import add_reply, make_client, make_ranking_tree, make_tree, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "kind", ["rank_assistant_replies", "label_assistant_reply", "assistant_reply"]
)
def test_a_claimed_task_renders_from_the_claims_rows_as_from_a_read_of_its_own(kind):
    client = make_client()
    ranked = make_ranking_tree(author=make_user(client), repliers=[make_user(client)] * 2)
    prompt = make_tree(author=make_user(client))
    add_reply(prompt, author=make_user(client), review_result=None)
    asker, other = make_user(client), make_user(client)
    for message in (ranked, prompt):  # the viewer's emojis on each prompt, and another's
        MessageEmoji.objects.create(message=message, user=asker, emoji="+1")
        MessageEmoji.objects.create(message=message, user=other, emoji="red_flag")

    task = tasks.request_task(user=asker, kind=TaskKind(kind), lang="en")

    assert task.payload_type == kind
    viewer_id, _read = task.claimed_conversation
    assert viewer_id == asker.id
    stored = Task.objects.get(id=task.id)  # no rows of the claim on it: its own read
    assert not hasattr(stored, "claimed_conversation")
    shown = render_task(task, viewer=asker)
    assert shown == render_task(stored, viewer=asker)
    messages = shown["conversation"]["messages"]
    assert messages and messages[0]["user_emojis"] == ["+1"]
    if kind.startswith("rank_"):
        assert len(shown["reply_messages"]) == 2
    # Another viewer's rendering does not take the asker's emojis from the claim's rows.
    assert render_task(task, viewer=other) == render_task(stored, viewer=other)
    assert render_task(task, viewer=other)["conversation"]["messages"][0]["user_emojis"] == [
        "red_flag"
    ]
