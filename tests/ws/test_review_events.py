"""Review outcomes and ranks reach the author's socket (and only the author's)."""

from __future__ import annotations

import itertools
import random

import pytest
from asgiref.sync import sync_to_async

from backend.accounts.services import ensure_user
from backend.trees.core.policy import TaskKind
from backend.trees.growth_config import update_config
from backend.trees.services.interactions import submit_labels, submit_ranking, submit_text_reply
from backend.trees.services.tasks import request_task
from tests.api.conftest import protocol_user
from tests.builders import GOOD_REVIEW, SMALL_TREES
from tests.ws.conftest import TIMEOUT, new_frontend, receive_event, send, ws_db

pytestmark = ws_db

_numbers = itertools.count()
GOOD = GOOD_REVIEW
SPAM = {"spam": 1.0, "lang_mismatch": 0.0}


class Volunteers:
    """Users of one frontend doing tasks through the services (sync; run via sync_to_async)."""

    def __init__(self, frontend, names):
        update_config(changes=SMALL_TREES, author="test")
        self.users = {
            name: ensure_user(api_client=frontend.client_row, auth_method="local", username=name)
            for name in names
        }
        self.rng = random.Random(7)

    def do(self, name, kind, *, labels=GOOD, text=None):
        user = self.users[name]
        task = request_task(user=user, kind=kind, lang="en", rng=self.rng)
        n = next(_numbers)
        if kind in (TaskKind.INITIAL_PROMPT, TaskKind.ASSISTANT_REPLY):
            return submit_text_reply(
                task_id=task.id, user=user, text=text or f"message {n}", frontend_message_id=f"m{n}"
            )
        if kind.value.startswith("label_"):
            valid = {k: v for k, v in labels.items() if k in task.payload["valid_labels"]}
            return submit_labels(
                task_id=task.id, user=user, message_id=task.payload["message_id"], labels=valid
            )
        return submit_ranking(task_id=task.id, user=user, ranking=[0, 1])


async def author_socket(sockets, frontend, name="a"):
    socket = await sockets.connect("/ws/tasks/", key=frontend.key)
    subscribed = await send(socket, {"type": "subscribe", "user": protocol_user(name)})
    assert subscribed["type"] == "subscribed"
    return socket


@pytest.mark.parametrize(
    ("labels", "event"), [(GOOD, "message_accepted"), (SPAM, "message_rejected")]
)
async def test_prompt_author_hears_the_review_outcome(sockets, labels, event):
    frontend = await new_frontend()
    socket = await author_socket(sockets, frontend)

    def reviewed_prompt():
        people = Volunteers(frontend, "abc")
        prompt = people.do("a", TaskKind.INITIAL_PROMPT, text="How do bees make honey?")
        people.do("b", TaskKind.LABEL_INITIAL_PROMPT, labels=labels)
        people.do("c", TaskKind.LABEL_INITIAL_PROMPT, labels=labels)
        return prompt

    prompt = await sync_to_async(reviewed_prompt)()
    frame = await receive_event(socket, event)
    assert frame["message_id"] == str(prompt.id)
    assert frame["frontend_message_id"] == prompt.frontend_message_id
    assert frame["message_tree_id"] == str(prompt.message_tree_id)
    assert frame["user"] == protocol_user("a")


async def test_reply_authors_hear_their_rank(sockets):
    frontend = await new_frontend()
    sockets_by_author = {name: await author_socket(sockets, frontend, name) for name in "de"}

    def ranked_tree():
        people = Volunteers(frontend, "abcdef")
        people.do("a", TaskKind.INITIAL_PROMPT, text="How do bees make honey?")
        people.do("b", TaskKind.LABEL_INITIAL_PROMPT)
        people.do("c", TaskKind.LABEL_INITIAL_PROMPT)
        replies = {
            "d": people.do("d", TaskKind.ASSISTANT_REPLY, text="Bees reduce nectar."),
            "e": people.do("e", TaskKind.ASSISTANT_REPLY, text="They evaporate nectar."),
        }
        for reviewer in "bc":
            people.do(reviewer, TaskKind.LABEL_ASSISTANT_REPLY)
            people.do(reviewer, TaskKind.LABEL_ASSISTANT_REPLY)
        people.do("a", TaskKind.RANK_ASSISTANT_REPLIES)
        people.do("f", TaskKind.RANK_ASSISTANT_REPLIES)
        return {name: reply.id for name, reply in replies.items()}

    reply_ids = await sync_to_async(ranked_tree)()
    ranks = []
    for name, socket in sockets_by_author.items():
        frame = await receive_event(socket, "message_ranked")
        assert frame["message_id"] == str(reply_ids[name])
        ranks.append(frame["rank"])
    assert sorted(ranks) == [0, 1]


async def test_reviewer_does_not_hear_the_outcome_of_someone_elses_prompt(sockets):
    frontend = await new_frontend()
    reviewer = await author_socket(sockets, frontend, "b")

    def reviewed_prompt():
        people = Volunteers(frontend, "abc")
        people.do("a", TaskKind.INITIAL_PROMPT, text="How do bees make honey?")
        people.do("b", TaskKind.LABEL_INITIAL_PROMPT)
        people.do("c", TaskKind.LABEL_INITIAL_PROMPT)

    await sync_to_async(reviewed_prompt)()
    types = []
    while not await reviewer.receive_nothing(timeout=1):
        types.append((await reviewer.receive_json_from(timeout=TIMEOUT))["type"])
    assert types == ["task_assigned"]  # b's own review task; no message_accepted
