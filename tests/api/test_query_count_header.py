"""The opt-in X-Grove-Queries header counts the SQL statements of one request exactly."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.query_count import QUERY_COUNT_HEADER, QueryCountMiddleware
from tests.api.conftest import protocol_user

pytestmark = pytest.mark.django_db

MIDDLEWARE_PATH = f"{QueryCountMiddleware.__module__}.{QueryCountMiddleware.__name__}"


def test_header_counts_every_statement_of_a_task_request(frontend, settings):
    settings.MIDDLEWARE = [MIDDLEWARE_PATH, *settings.MIDDLEWARE]
    body = {"type": "initial_prompt", "user": protocol_user("alice"), "lang": "en"}
    with CaptureQueriesContext(connection) as captured:
        response = frontend.post("tasks/", body)
    assert response.status_code == 200
    assert len(captured.captured_queries) > 0
    assert response[QUERY_COUNT_HEADER] == str(len(captured.captured_queries))


def test_header_is_absent_unless_enabled(frontend, settings):
    assert MIDDLEWARE_PATH not in settings.MIDDLEWARE
    response = frontend.post("tasks/", {"type": "initial_prompt", "user": protocol_user("bob")})
    assert QUERY_COUNT_HEADER not in response


@pytest.mark.parametrize(
    "kind", ["rank_assistant_replies", "label_assistant_reply", "assistant_reply"]
)
def test_a_task_request_of_a_known_user_takes_three_statements(frontend, kind):
    """Issue 8: user, ready-work read, and the claim, whose statement brings the task's
    conversation back with it (a fourth before). A ranking task's replies come in that
    statement too (they took a fifth)."""
    from tests.builders import add_reply, make_ranking_tree, make_tree, make_user

    client = frontend.client_row
    ranked = make_ranking_tree(
        author=make_user(client), repliers=[make_user(client), make_user(client)]
    )
    add_reply(make_tree(author=make_user(client)), author=make_user(client), review_result=None)
    asker = make_user(client, username="asker")
    asker.display_name = "Asker"  # as protocol_user names it: no rename in the request
    asker.save()
    # The API client's row is read once per process (then kept): read it before counting.
    frontend.post("tasks/", {"type": "initial_prompt", "user": protocol_user("warm")})
    body = {"type": kind, "user": protocol_user("asker"), "lang": "en"}
    with CaptureQueriesContext(connection) as captured:
        response = frontend.post("tasks/", body)
    assert response.status_code == 200, response.json()
    assert response.json()["type"] == kind
    statements = [q["sql"] for q in captured.captured_queries]
    assert len(statements) == 3, "\n".join(s[:90] for s in statements)
    assert "grove_claim" in statements[-1] and "RECURSIVE" in statements[-1]
    assert response.json()["conversation"]["messages"]  # rendered from the claim's rows
    if kind.startswith("rank_"):
        replies = response.json()["reply_messages"]
        assert {r["text"] for r in replies} == {"a assistant reply"}
        assert len(replies) == 2 and response.json()["ranking_parent_id"] == str(ranked.id)
