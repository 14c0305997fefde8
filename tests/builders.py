"""Small builders for rows the tests need (``make_user``, ``grow_tree`` ...)."""

from __future__ import annotations

import itertools
from typing import Any

from backend.accounts.models import ApiClient, User
from backend.accounts.services import create_api_client
from backend.trees.models import Message, MessageTree

_counter = itertools.count(1)


def make_client(*, trusted: bool = False, name: str | None = None) -> ApiClient:
    return create_api_client(name=name or f"client-{next(_counter)}", trusted=trusted).client


def make_user(client: ApiClient | None = None, *, username: str | None = None) -> User:
    client = client or make_client()
    name = username or f"user-{next(_counter)}"
    return User.objects.create(
        api_client=client, auth_method="local", username=name, display_name=name
    )


def make_tree(
    *,
    author: User,
    state: str = "growing",
    lang: str = "en",
    review_result: bool | None = True,
    **limits,
) -> Message:
    """A tree with its initial prompt (accepted unless ``review_result`` says otherwise);
    returns the prompt."""
    tree = MessageTree.objects.create(
        state=state,
        lang=lang,
        goal_tree_size=limits.get("goal_tree_size", 12),
        max_depth=limits.get("max_depth", 3),
        max_children_count=limits.get("max_children_count", 3),
    )
    prompt = Message.objects.create(
        id=tree.id,
        message_tree=tree,
        role="prompter",
        text="What is a good way to learn to juggle?",
        lang=lang,
        review_result=review_result,
        user=author,
        api_client=author.api_client,
        frontend_message_id=f"fm-{next(_counter)}",
    )
    index_trees(tree.id)
    return prompt


def index_trees(*tree_ids) -> None:
    """Bring the ready-work index in line after rows were written directly (the services do
    this themselves in every change)."""
    from backend.trees import ready_work
    from backend.trees.growth_config import active_config

    config = active_config()
    ready_work.refresh_trees(tree_ids, config)
    for lang in set(MessageTree.objects.filter(id__in=tree_ids).values_list("lang", flat=True)):
        ready_work.refresh_lang(lang, config)


def add_reply(parent: Message, *, author: User, role: str | None = None, **fields) -> Message:
    role = role or ("assistant" if parent.role == "prompter" else "prompter")
    reply = Message.objects.create(
        message_tree_id=parent.message_tree_id,
        parent=parent,
        role=role,
        text=fields.pop("text", f"a {role} reply"),
        lang=parent.lang,
        depth=parent.depth + 1,
        user=author,
        api_client=author.api_client,
        frontend_message_id=f"fm-{next(_counter)}",
        **fields,
    )
    Message.objects.filter(id=parent.id).update(children_count=parent.children_count + 1)
    parent.children_count += 1
    index_trees(parent.message_tree_id)
    return reply


def make_ranking_tree(*, author: User, repliers: list[User], **limits) -> Message:
    """A tree in ``ranking`` whose prompt has one accepted answer by each of ``repliers``."""
    prompt = make_tree(author=author, state="ranking", **limits)
    for replier in repliers:
        add_reply(prompt, author=replier, review_result=True)
    return prompt


def answer(task, user: User, text: str | None = None) -> Message:
    """Write the reply a text task asks for, as the frontend would."""
    from backend.trees.services.interactions import submit_text_reply

    return submit_text_reply(
        task_id=task.id,
        user=user,
        text=text or f"an answer by {user.username}",
        frontend_message_id=f"fm-{next(_counter)}",
    )


def review(message: Message, reviewers: list[User], labels: dict | None = None) -> None:
    """Each reviewer takes the label task of ``message`` (the only one waiting) and labels it."""
    from backend.trees.core.policy import TaskKind
    from backend.trees.services.interactions import submit_labels
    from backend.trees.services.tasks import request_task

    kinds = {"prompter": TaskKind.LABEL_PROMPTER_REPLY, "assistant": TaskKind.LABEL_ASSISTANT_REPLY}
    kind = TaskKind.LABEL_INITIAL_PROMPT if message.depth == 0 else kinds[message.role]
    for reviewer in reviewers:
        task = request_task(user=reviewer, kind=kind, lang=message.lang)
        assert task.parent_message_id == message.id, "another message was waiting for review"
        given = labels or GOOD_REVIEW
        submit_labels(
            task_id=task.id,
            user=reviewer,
            message_id=message.id,
            labels={k: v for k, v in given.items() if k in task.payload["valid_labels"]},
        )


# Trees that finish after a handful of tasks: prompt + two answers, two reviews, two rankings.
SMALL_TREES = {
    "goal_tree_size": 3,
    "min_goal_tree_size": 3,
    "num_reviews_initial_prompt": 2,
    "num_reviews_reply": 2,
    "num_required_rankings": 2,
    "max_children_count": 2,
    "p_lonely_child_extension": 0.0,
}
GOOD_REVIEW = {"spam": 0.0, "lang_mismatch": 0.0, "quality": 0.8}


def use_small_trees() -> None:
    """Activate SMALL_TREES as the tree-growth configuration."""
    from backend.trees.growth_config import update_config

    update_config(changes=SMALL_TREES, author="test")


def config_form_data(comment: str = "", **changes: Any) -> dict[str, Any]:
    """A tree-growth config form as a browser posts it (the admin's add form, the console's
    form): the active values with ``changes`` applied."""
    from backend.trees.growth_config import active_config

    data: dict[str, Any] = {"comment": comment}
    for name, value in {**active_config().to_dict(), **changes}.items():
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is None:
            data[name] = ""
        else:
            data[name] = value if isinstance(value, list) else str(value)
    return data
