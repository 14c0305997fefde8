"""No over-assignment under concurrency, and a bounded number of queries per request."""

from __future__ import annotations

import contextlib
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from backend.trees.core.policy import NoTaskAvailable, TaskKind
from backend.trees.growth_config import update_config
from backend.trees.models import Task
from backend.trees.services.tasks import request_task
from tests.builders import add_reply, make_client, make_ranking_tree, make_tree, make_user

CONCURRENT_REQUESTS = 100
THREADS = 30  # PostgreSQL allows 100 connections, shared with other suites running at once


@pytest.fixture(autouse=True, params=["claim in the database", "claim step by step"])
def claim_path(request, settings):
    """Every test here runs on both claim paths: PostgreSQL's ``grove_claim`` function and
    the step-by-step statements (SQLite's path, and PostgreSQL's with the setting off)."""
    settings.GROVE_CLAIM_IN_DATABASE = request.param == "claim in the database"
    return request.param


def _request_in_thread(
    user, barrier: threading.Barrier | None, results: list, kind=TaskKind.ASSISTANT_REPLY
) -> None:
    try:
        if barrier is not None:
            barrier.wait(timeout=30)
        try:
            task = request_task(user=user, kind=kind, lang="en")
            results.append(task.parent_message_id)
        except NoTaskAvailable:
            results.append(None)
        except Exception as exc:  # kept, so the test can name it
            results.append(exc)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_requests_reserve_the_last_reply_slot_once():
    client = make_client()
    author = make_user(client, username="author")
    prompt = make_tree(author=author, max_children_count=3, goal_tree_size=50)
    for i in range(2):  # two accepted answers: the root needs exactly one more
        reply = add_reply(prompt, author=make_user(client, username=f"early-{i}"))
        reply.review_result = True
        reply.save(update_fields=["review_result"])
    users = [make_user(client, username=f"u{i}") for i in range(CONCURRENT_REQUESTS)]

    results: list = []
    barrier = threading.Barrier(THREADS)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        for index, user in enumerate(users):
            # The first THREADS requests start together; the rest follow as threads free up.
            pool.submit(_request_in_thread, user, barrier if index < THREADS else None, results)
    assert len(results) == CONCURRENT_REQUESTS
    granted = [r for r in results if r is not None]
    assert granted == [prompt.id]
    assert Task.objects.filter(parent_message=prompt, payload_type="assistant_reply").count() == 1


SLOT_THREADS = 20  # well under PostgreSQL's 100 connections, which other suites share


def _race(users, kind: TaskKind) -> list:
    """Every user in ``users`` asks for a ``kind`` task at once (SLOT_THREADS at a time);
    returns the parent message id of each task handed out, None for each refusal."""
    results: list = []
    threads = min(SLOT_THREADS, len(users))
    barrier = threading.Barrier(threads)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for index, user in enumerate(users):
            pool.submit(
                _request_in_thread, user, barrier if index < threads else None, results, kind
            )
    assert len(results) == len(users)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, f"requests failed: {errors[:3]}"
    return results


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_reviewers_get_exactly_the_required_number_of_label_tasks():
    client = make_client()
    prompt = make_tree(author=make_user(client, username="author"))
    reply = add_reply(prompt, author=make_user(client, username="answerer"))  # awaits review
    reviewers = [make_user(client, username=f"reviewer-{i}") for i in range(40)]

    granted = [r for r in _race(reviewers, TaskKind.LABEL_ASSISTANT_REPLY) if r is not None]

    assert granted == [reply.id] * 3  # num_reviews_reply
    assert Task.objects.filter(parent_message=reply).count() == 3


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_rankers_get_exactly_the_required_number_of_ranking_tasks():
    client = make_client()
    repliers = [make_user(client, username=f"replier-{i}") for i in range(2)]
    prompt = make_ranking_tree(author=make_user(client, username="author"), repliers=repliers)
    rankers = [make_user(client, username=f"ranker-{i}") for i in range(40)]

    granted = [r for r in _race(rankers, TaskKind.RANK_ASSISTANT_REPLIES) if r is not None]

    assert granted == [prompt.id] * 3  # num_required_rankings
    assert Task.objects.filter(parent_message=prompt).count() == 3


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_requests_of_one_user_stay_under_the_pending_task_cap():
    update_config(changes={"max_pending_tasks_per_user": 2}, author="test")
    client = make_client()
    author = make_user(client, username="author")
    for _ in range(20):
        make_tree(author=author, state="initial_prompt_review", review_result=None)
    user = make_user(client, username="eager")

    granted = [r for r in _race([user] * 20, TaskKind.LABEL_INITIAL_PROMPT) if r is not None]

    assert len(granted) == 2
    assert Task.objects.filter(user=user).count() == 2


def _grow_forest(trees: int, client) -> None:
    for _ in range(trees):
        prompt = make_tree(author=make_user(client))
        for r in range(2):
            reply = add_reply(prompt, author=make_user(client))
            reply.review_result = bool(r)
            reply.save(update_fields=["review_result"])


def _queries_for_one_request(django_assert_max_num_queries, user, kind) -> int:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx, contextlib.suppress(NoTaskAvailable):
        request_task(user=user, kind=kind, lang="en", rng=random.Random(5))
    return len(ctx.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [TaskKind.RANDOM, TaskKind.ASSISTANT_REPLY])
def test_request_task_runs_a_bounded_number_of_queries(django_assert_max_num_queries, kind):
    client = make_client()
    _grow_forest(3, client)
    few = _queries_for_one_request(django_assert_max_num_queries, make_user(client), kind)
    _grow_forest(30, client)
    many = _queries_for_one_request(django_assert_max_num_queries, make_user(client), kind)
    assert many == few
    assert many <= 20


@pytest.mark.django_db
def test_a_configuration_change_applies_to_the_next_request_without_a_config_query():
    update_config(changes={"max_pending_tasks_per_user": 1}, author="test")
    client = make_client()
    _grow_forest(3, client)
    user = make_user(client)
    request_task(user=user, kind=TaskKind.RANDOM, lang="en")
    with pytest.raises(NoTaskAvailable):
        request_task(user=user, kind=TaskKind.RANDOM, lang="en")  # one pending task is the cap
    update_config(changes={"max_pending_tasks_per_user": 3}, author="test")
    # The next request reads the new version's pk with its work and switches to it.
    assert request_task(user=user, kind=TaskKind.RANDOM, lang="en") is not None
