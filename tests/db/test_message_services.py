"""Message services: emoji counts follow the rows, delete/undelete keep children_count,
edits keep their history, halting is idempotent and journaled."""

from __future__ import annotations

import random

import pytest

from backend.trees.errors import MessageNotFound
from backend.trees.models import JournalEntry, Message, MessageEmoji, MessageRevision
from backend.trees.services import messages
from backend.trees.services.messages import EmojiOp
from tests.builders import add_reply, make_tree, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree():
    author = make_user()
    prompt = make_tree(author=author)
    reply = add_reply(prompt, author=author, review_result=True)
    leaf = add_reply(reply, author=author, review_result=True)
    return prompt, reply, leaf


def row_counts(message_id) -> dict[str, int]:
    counts: dict[str, int] = {}
    for emoji in MessageEmoji.objects.filter(message_id=message_id).values_list("emoji", flat=True):
        counts[emoji] = counts.get(emoji, 0) + 1
    return counts


def test_emoji_counts_always_match_the_rows(tree):
    _prompt, reply, _leaf = tree
    users = [make_user(reply.api_client) for _ in range(4)]
    rng = random.Random(7)
    for _ in range(60):
        messages.react_with_emoji(
            message_id=reply.id,
            user=rng.choice(users),
            emoji=rng.choice(["+1", "-1", "clap", "red_flag"]),
            op=rng.choice(list(EmojiOp)),
        )
        assert Message.objects.get(id=reply.id).emojis == row_counts(reply.id)


def test_adding_an_emoji_twice_counts_once(tree):
    _prompt, reply, _leaf = tree
    user = make_user(reply.api_client)
    for _ in range(2):
        messages.react_with_emoji(message_id=reply.id, user=user, emoji="clap", op=EmojiOp.ADD)
    assert Message.objects.get(id=reply.id).emojis == {"clap": 1}


def test_red_flag_asks_for_the_tree_to_be_advanced(tree, django_capture_on_commit_callbacks):
    _prompt, reply, _leaf = tree
    with django_capture_on_commit_callbacks() as callbacks:
        messages.react_with_emoji(
            message_id=reply.id, user=make_user(reply.api_client), emoji="red_flag", op="add"
        )
    assert len(callbacks) == 1


def test_delete_then_undelete_restores_children_count(tree):
    prompt, reply, leaf = tree
    messages.delete_message(message_id=reply.id, actor="mod")
    assert Message.objects.get(id=prompt.id).children_count == 0
    assert Message.objects.get(id=leaf.id).deleted is True
    messages.undelete_message(message_id=reply.id, actor="mod")
    assert Message.objects.get(id=prompt.id).children_count == 1
    # The subtree below stays deleted (OA undeletes the message and its ancestors only).
    assert Message.objects.get(id=leaf.id).deleted is True


def test_undelete_is_journaled(tree):
    _prompt, reply, _leaf = tree
    messages.undelete_message(message_id=reply.id, actor="mod")
    entry = JournalEntry.objects.get(event_type="message_undeleted")
    assert entry.message_id == reply.id and entry.actor == "mod"


def test_delete_of_unknown_message_raises_message_not_found():
    with pytest.raises(MessageNotFound):
        messages.delete_message(message_id="00000000-0000-0000-0000-000000000000", actor="m")


def test_original_text_is_stored_once_across_edits(tree):
    _prompt, reply, _leaf = tree
    editor = make_user(reply.api_client)
    original = reply.text
    messages.edit_message(message_id=reply.id, editor=editor, new_text="v2")
    messages.edit_message(message_id=reply.id, editor=editor, new_text="v3")
    texts = list(MessageRevision.objects.filter(message=reply).values_list("text", flat=True))
    assert texts == [original, "v2", "v3"]
    assert Message.objects.get(id=reply.id).text == "v3"


def test_halting_twice_changes_state_once(tree):
    prompt, _reply, _leaf = tree
    for _ in range(2):
        messages.set_tree_halted(message_id=prompt.id, halt=True, actor="mod")
    assert JournalEntry.objects.filter(event_type="tree_state_changed").count() == 1
