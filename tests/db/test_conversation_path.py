"""selectors.conversation_with_emojis: the path to a message and the viewer's emojis on it."""

from __future__ import annotations

import pytest

from backend.trees import selectors
from backend.trees.models import MessageEmoji
from tests.builders import add_reply, make_client, make_tree, make_user

pytestmark = pytest.mark.django_db


def test_the_path_runs_from_the_prompt_to_the_message_with_only_the_viewers_emojis():
    client = make_client()
    viewer, other = make_user(client), make_user(client)
    prompt = make_tree(author=make_user(client))
    answer = add_reply(prompt, author=make_user(client))
    sibling = add_reply(prompt, author=make_user(client))  # not on the path
    follow_up = add_reply(answer, author=make_user(client))
    below = add_reply(follow_up, author=make_user(client))  # below the message: not on it
    for message, user, emoji in [
        (answer, viewer, "+1"),
        (answer, viewer, "red_flag"),
        (answer, other, "-1"),
        (prompt, other, "+1"),
        (below, viewer, "+1"),
    ]:
        MessageEmoji.objects.create(message=message, user=user, emoji=emoji)

    path, emojis, others = selectors.conversation_with_emojis(
        follow_up.id, viewer_id=viewer.id, also=[sibling.id, below.id]
    )

    assert [m.id for m in path] == [prompt.id, answer.id, follow_up.id]
    # The messages asked for besides the path (a ranking task's replies), in the same read.
    assert {i: m.text for i, m in others.items()} == {
        sibling.id: sibling.text,
        below.id: below.text,
    }
    assert {k: sorted(v) for k, v in emojis.items()} == {answer.id: ["+1", "red_flag"]}
    assert path[1].text == answer.text and path[1].parent_id == prompt.id
    # Each column as the wire JSON needs it (the read is a plain cursor, not model rows).
    first = path[0]
    assert (first.user_id, first.role, first.lang) == (prompt.user_id, prompt.role, prompt.lang)
    assert first.emojis == prompt.emojis and isinstance(first.emojis, dict)
    assert first.synthetic is False and first.frontend_message_id == prompt.frontend_message_id
    assert [m.id for m in selectors.conversation_path(prompt.id)] == [prompt.id]
    assert selectors.conversation_with_emojis(follow_up.id, viewer_id=None)[1] == {}
