"""Constraints of the data model, checked on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from backend.accounts.models import ApiClient, User
from backend.trees.models import (
    TREE_STATE_CHOICES,
    Message,
    MessageEmoji,
    MessageReaction,
    MessageTree,
    Task,
    TextLabels,
    TreeGrowthConfig,
)
from tests.builders import add_reply, make_client, make_tree, make_user

pytestmark = pytest.mark.django_db


def test_username_is_unique_per_client_and_auth_method():
    client = make_client()
    make_user(client, username="ada")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_user(client, username="ada")


def test_same_username_is_allowed_on_another_client_or_auth_method():
    make_user(make_client(), username="ada")
    make_user(make_client(), username="ada")
    client = make_client()
    make_user(client, username="ada")
    User.objects.create(
        api_client=client, auth_method="discord", username="ada", display_name="Ada"
    )
    assert User.objects.filter(username="ada").count() == 4


def test_api_client_with_users_cannot_be_deleted():
    user = make_user()
    with pytest.raises(ProtectedError):
        user.api_client.delete()


def test_deleting_a_tree_deletes_its_messages_tasks_and_labels():
    author, reviewer = make_user(), make_user()
    prompt = make_tree(author=author)
    reply = add_reply(prompt, author=author)
    TextLabels.objects.create(
        message=reply, user=reviewer, api_client=reviewer.api_client, labels={"spam": 0}
    )
    Task.objects.create(
        payload_type="AssistantReplyTask",
        payload={},
        user=reviewer,
        api_client=reviewer.api_client,
        message_tree=prompt.message_tree,
        parent_message=prompt,
    )
    prompt.message_tree.delete()
    assert Message.objects.count() == 0
    assert TextLabels.objects.count() == 0
    assert Task.objects.count() == 0
    assert User.objects.filter(id=author.id).exists()


def test_user_with_messages_cannot_be_hard_deleted():
    author = make_user()
    make_tree(author=author)
    with pytest.raises(ProtectedError):
        author.delete()


def test_tree_state_outside_the_protocol_is_rejected():
    with pytest.raises(IntegrityError), transaction.atomic():
        MessageTree.objects.create(
            state="sprouting", lang="en", goal_tree_size=12, max_depth=3, max_children_count=3
        )


def test_every_open_assistant_tree_state_is_accepted():
    for state, _ in TREE_STATE_CHOICES:
        MessageTree.objects.create(
            state=state, lang="en", goal_tree_size=12, max_depth=3, max_children_count=3
        )
    assert MessageTree.objects.count() == 10


def test_reply_must_have_depth_below_its_parent():
    author = make_user()
    prompt = make_tree(author=author)
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            message_tree=prompt.message_tree,
            parent=prompt,
            role="assistant",
            text="hi",
            lang="en",
            depth=0,
            user=author,
            api_client=author.api_client,
            frontend_message_id="x-1",
        )


def test_initial_prompt_must_be_written_by_a_prompter():
    author = make_user()
    tree = MessageTree.objects.create(
        state="initial_prompt_review",
        lang="en",
        goal_tree_size=5,
        max_depth=3,
        max_children_count=3,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            id=tree.id,
            message_tree=tree,
            role="assistant",
            text="hi",
            lang="en",
            user=author,
            api_client=author.api_client,
            frontend_message_id="x-2",
        )


def test_frontend_message_id_is_unique_per_client():
    author = make_user()
    prompt = make_tree(author=author)
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            message_tree=prompt.message_tree,
            parent=prompt,
            role="assistant",
            text="again",
            lang="en",
            depth=1,
            user=author,
            api_client=author.api_client,
            frontend_message_id=prompt.frontend_message_id,
        )


def test_a_user_reviews_a_message_through_tasks_only_once():
    author, reviewer = make_user(), make_user()
    prompt = make_tree(author=author)

    def review():
        task = Task.objects.create(
            payload_type="LabelInitialPromptTask",
            payload={},
            user=reviewer,
            api_client=reviewer.api_client,
            parent_message=prompt,
        )
        TextLabels.objects.create(
            message=prompt,
            user=reviewer,
            api_client=reviewer.api_client,
            task=task,
            labels={"spam": 0.0},
        )

    review()
    with pytest.raises(IntegrityError), transaction.atomic():
        review()


def test_a_user_ranks_a_parent_once():
    author, ranker = make_user(), make_user()
    prompt = make_tree(author=author)

    def rank():
        MessageReaction.objects.create(
            message=prompt,
            user=ranker,
            api_client=ranker.api_client,
            payload_type="RankingReactionPayload",
            payload={"ranking": []},
        )

    rank()
    with pytest.raises(IntegrityError), transaction.atomic():
        rank()


def test_an_emoji_counts_once_per_user():
    author = make_user()
    prompt = make_tree(author=author)
    MessageEmoji.objects.create(message=prompt, user=author, emoji="+1")
    with pytest.raises(IntegrityError), transaction.atomic():
        MessageEmoji.objects.create(message=prompt, user=author, emoji="+1")


def test_task_cannot_be_both_done_and_skipped():
    user = make_user()
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.create(
            payload_type="InitialPromptTask",
            payload={},
            user=user,
            api_client=user.api_client,
            done=True,
            skipped=True,
            expiry_date=timezone.now() + timedelta(hours=1),
        )


def test_only_one_config_version_is_active():
    TreeGrowthConfig.objects.filter(is_active=True).update(is_active=False)
    TreeGrowthConfig.objects.create(version=1000, values={}, is_active=True, created_by="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        TreeGrowthConfig.objects.create(version=1001, values={}, is_active=True, created_by="b")


def test_api_key_is_stored_only_as_a_digest():
    client = make_client()
    stored = ApiClient.objects.values_list("api_key_digest", "key_id").get(id=client.id)
    assert len(stored[0]) == 64
    assert len(stored[1]) == 8
