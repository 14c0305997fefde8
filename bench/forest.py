"""Build a large, realistic database for the benchmarks (bulk inserts, no services).

Trees in every state, with the proportions of a long-running deployment: most trees are
finished (exported or aborted), a few are growing, in review, waiting or being ranked.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from backend.accounts.models import ApiClient, User
from backend.accounts.services import create_api_client
from backend.trees.models import Message, MessageTree, TextLabels

# state -> share of trees
STATE_MIX = {
    "ready_for_export": 0.80,
    "aborted_low_grade": 0.10,
    "growing": 0.002,
    "initial_prompt_review": 0.01,
    "prompt_lottery_waiting": 0.03,
    "ranking": 0.008,
    "backlog_ranking": 0.05,
}
BATCH = 5000


def build_forest(*, messages: int, users: int = 2000, langs=("en", "de", "es"), seed: int = 1):
    """Insert about ``messages`` messages in trees of ~12; returns (client, users)."""
    rng = random.Random(seed)
    client = create_api_client(name=f"bench-{uuid.uuid4().hex[:6]}").client
    people = User.objects.bulk_create(
        [
            User(api_client=client, auth_method="local", username=f"b{i}", display_name=f"B {i}")
            for i in range(users)
        ]
    )
    start = timezone.now() - timedelta(days=200)
    trees, rows, labels = [], [], []
    made = 0
    states, weights = zip(*STATE_MIX.items(), strict=True)
    while made < messages:
        state = rng.choices(states, weights)[0]
        lang = rng.choice(langs)
        created = start + timedelta(minutes=made)
        tree = MessageTree(
            state=state,
            lang=lang,
            goal_tree_size=12,
            max_depth=3,
            max_children_count=3,
            active=state in {"growing", "initial_prompt_review", "ranking"},
            created_at=created,
        )
        trees.append(tree)
        size = 1 if state in {"initial_prompt_review", "prompt_lottery_waiting"} else 12
        made += _grow(tree, size, state, people, client, rng, rows, labels, created)
        if len(rows) >= BATCH:
            _flush(trees, rows, labels)
    _flush(trees, rows, labels)
    return client, people


def _grow(tree, size, state, people, client, rng, rows, labels, created) -> int:
    reviewed = state not in {"initial_prompt_review"}
    prompt = Message(
        id=tree.id,
        message_tree=tree,
        role="prompter",
        text="a prompt " * 8,
        lang=tree.lang,
        review_result=True if reviewed else None,
        review_count=3 if reviewed else 0,
        user=rng.choice(people),
        api_client=client,
        frontend_message_id=uuid.uuid4().hex,
        created_at=created,
    )
    rows.append(prompt)
    nodes = [prompt]
    while len(nodes) < size:
        parent = rng.choice([n for n in nodes if n.depth < 3] or nodes[:1])
        role = "assistant" if parent.role == "prompter" else "prompter"
        child = Message(
            message_tree=tree,
            parent=parent,
            role=role,
            text="a reply " * 20,
            lang=tree.lang,
            depth=parent.depth + 1,
            review_result=True,
            review_count=3,
            ranking_count=3 if state == "ready_for_export" else 0,
            user=rng.choice(people),
            api_client=client,
            frontend_message_id=uuid.uuid4().hex,
            created_at=created + timedelta(seconds=len(nodes)),
        )
        parent.children_count += 1
        rows.append(child)
        nodes.append(child)
        labels.append(
            TextLabels(
                message=child,
                user=rng.choice(people),
                api_client=client,
                labels={"spam": 0.0, "quality": rng.random()},
            )
        )
    return len(nodes)


@transaction.atomic
def _flush(trees, rows, labels) -> None:
    MessageTree.objects.bulk_create(trees)
    # parents before children: rows were appended in creation order
    Message.objects.bulk_create(rows, batch_size=BATCH)
    TextLabels.objects.bulk_create(labels, batch_size=BATCH)
    trees.clear()
    rows.clear()
    labels.clear()


def api_client_of(users) -> ApiClient:
    return users[0].api_client
