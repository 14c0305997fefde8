"""The task protocol's events are counted by kind and language, once their change commits."""

from __future__ import annotations

import pytest

from backend.console import deployment
from backend.observability import metrics
from backend.push import keys, signals
from backend.trees.services import tasks
from backend.trees.services.maintenance import expire_tasks
from tests.api.conftest import protocol_user
from tests.builders import make_tree, make_user
from tests.observability.scraping import scrape, value

pytestmark = pytest.mark.django_db

ALICE = protocol_user("alice")


def counted(client, name: str, **labels) -> float:
    return value(scrape(client), name, **labels)


def test_a_task_cycle_counts_handed_out_acked_and_answered(
    frontend, django_capture_on_commit_callbacks
):
    labels = {"kind": "initial_prompt", "lang": "de"}
    names = (
        "grove_tasks_handed_out_total",
        "grove_tasks_acked_total",
        "grove_tasks_answered_total",
    )
    before = {name: counted(frontend.http, name, **labels) for name in names}
    with django_capture_on_commit_callbacks(execute=True):
        task = frontend.post(
            "tasks/", {"type": "initial_prompt", "user": ALICE, "lang": "de"}
        ).json()
        frontend.post(f"tasks/{task['id']}/ack", {"message_id": "fm-1"})
        answer = frontend.post(
            "tasks/interaction",
            {
                "type": "text_reply_to_message",
                "user": ALICE,
                "message_id": "fm-1",
                "user_message_id": "um-1",
                "text": "Wie geht Sauerteig auf?",
                "lang": "de",
            },
        )
    assert answer.status_code == 200
    for name in names:
        assert counted(frontend.http, name, **labels) - before[name] == 1, name


def test_a_skipped_task_is_counted(frontend, django_capture_on_commit_callbacks):
    labels = {"kind": "initial_prompt", "lang": "en"}
    before = counted(frontend.http, "grove_tasks_skipped_total", **labels)
    with django_capture_on_commit_callbacks(execute=True):
        task = frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE}).json()
        frontend.post(f"tasks/{task['id']}/nack", {"reason": "not now"}, user="local:alice")
    assert counted(frontend.http, "grove_tasks_skipped_total", **labels) - before == 1


def test_a_change_that_rolls_back_counts_nothing(frontend):
    # The test's transaction never commits: the hand-out is not counted.
    labels = {"kind": "initial_prompt", "lang": "en"}
    before = counted(frontend.http, "grove_tasks_handed_out_total", **labels)
    assert frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE}).status_code == 200
    assert counted(frontend.http, "grove_tasks_handed_out_total", **labels) == before


def test_an_expired_task_is_counted(frontend, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    labels = {"kind": "initial_prompt", "lang": "en"}
    before = counted(frontend.http, "grove_tasks_expired_total", **labels)
    with django_capture_on_commit_callbacks(execute=True):
        frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE})
        expire_tasks(now=timezone.now() + timedelta(days=1))
    assert counted(frontend.http, "grove_tasks_expired_total", **labels) - before == 1


def test_a_pushed_task_returned_to_the_pool_is_counted(
    frontend, django_capture_on_commit_callbacks
):
    from backend.trees.services.push_leases import return_pushed_task

    labels = {"kind": "initial_prompt", "lang": "en"}
    before = counted(frontend.http, "grove_tasks_returned_total", **labels)
    with django_capture_on_commit_callbacks(execute=True):
        task = frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE}).json()
        assert return_pushed_task(task_id=task["id"], only_unacked=True, why="ack_timeout")
    assert counted(frontend.http, "grove_tasks_returned_total", **labels) - before == 1


def test_a_request_that_gets_no_task_is_counted_as_unserved(frontend):
    labels = {"requested": "rank_assistant_replies", "lang": "en", "reason": "none_available"}
    before = counted(frontend.http, "grove_task_requests_unserved_total", **labels)
    response = frontend.post("tasks/", {"type": "rank_assistant_replies", "user": ALICE})
    assert response.status_code == 503
    assert counted(frontend.http, "grove_task_requests_unserved_total", **labels) - before == 1


def test_languages_past_the_label_cap_share_one_label(monkeypatch):
    monkeypatch.setattr(metrics, "_labelled_langs", set())
    monkeypatch.setattr(metrics, "MAX_LANG_LABELS", 2)
    assert [metrics.lang_label(code) for code in ("en", "de", "fr", "en")] == [
        "en",
        "de",
        "other",
        "en",
    ]
    assert metrics.lang_label("x" * 40) == "other"
    assert metrics.lang_label("en US; drop") == "other"


def test_trees_are_gauged_by_language_and_state(client):
    before = value(scrape(client), "grove_trees", lang="fi", state="growing")
    author = make_user()
    make_tree(author=author, lang="fi", state="growing")
    make_tree(author=author, lang="fi", state="growing")
    assert value(scrape(client), "grove_trees", lang="fi", state="growing") - before == 2


def test_the_scrape_reports_every_source_up(client):
    text = scrape(client)
    for source in ("trees", "ready_work", "growth_config", "queues", "readiness", "volunteers"):
        assert value(text, "grove_scrape_source_up", source=source) == 1, source
    assert value(text, "grove_ready") == 1


def test_a_slot_lost_to_a_concurrent_request_is_a_claim_conflict(frontend, monkeypatch):
    # The race itself is tests/db/test_task_reservation.py's; here the first claim loses it.
    original, calls = tasks._claim, []

    def loses_once(*args, **kwargs):
        calls.append(1)
        return None if len(calls) == 1 else original(*args, **kwargs)

    monkeypatch.setattr(tasks, "_claim", loses_once)
    labels = {"kind": "initial_prompt", "lang": "en"}
    before = counted(frontend.http, "grove_task_claim_conflicts_total", **labels)
    assert frontend.post("tasks/", {"type": "initial_prompt", "user": ALICE}).status_code == 200
    assert counted(frontend.http, "grove_task_claim_conflicts_total", **labels) - before == 1


def test_the_active_growth_config_version_is_exported(client):
    from backend.trees.growth_config import update_config

    version = update_config(changes={"num_reviews_initial_prompt": 2}, author="test").version
    assert value(scrape(client), "grove_growth_config_version") == version


def test_volunteers_waiting_for_push_and_active_over_rest_are_gauged_by_language(
    client, frontend, settings
):
    settings.GROVE_CONSOLE_FLUSH_SECONDS = 0  # this process's flusher thread: paused
    redis = signals.redis_client()
    redis.delete(keys.LANGS, keys.ready("sv"), *redis.keys(f"{deployment.PREFIX}*") or ["x"])
    deployment._take_volunteers()
    redis.sadd(keys.LANGS, "sv")
    redis.zadd(keys.ready("sv"), {"s1.u1": 1, "s1.u2": 2})
    try:
        for name in ("alice", "bob", "alice"):
            body = {"type": "assistant_reply", "lang": "sv", "user": protocol_user(name)}
            assert frontend.post("tasks/", body).status_code == 503
        deployment.Flusher().flush(redis)

        text = scrape(client)
    finally:
        redis.delete(keys.LANGS, keys.ready("sv"))
    assert value(text, "grove_push_volunteers_ready", lang="sv") == 2
    assert value(text, "grove_rest_volunteers_active", lang="sv") == 2
