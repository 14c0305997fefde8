"""CompiledQuery: a query compiled once runs with each call's values, or refuses to run."""

from __future__ import annotations

import pytest

from backend.compiled_query import SENTINEL_IDS, CompiledQuery
from backend.trees.models import Message
from tests.builders import add_reply, make_client, make_tree, make_user

pytestmark = pytest.mark.django_db


def replies_by(*, author_id, lang):
    return Message.objects.filter(user_id=author_id, lang=lang, depth__gt=0).order_by("id")


def test_each_call_runs_with_its_own_values():
    query = CompiledQuery(replies_by, sentinels={"author_id": SENTINEL_IDS[0], "lang": "xx"})
    client = make_client()
    alice, bob = make_user(client), make_user(client)
    prompt = make_tree(author=alice)
    mine = add_reply(prompt, author=bob)

    for author, lang, expected in ((bob, "en", [mine.id]), (alice, "en", []), (bob, "de", [])):
        sql, params = query.statement({"author_id": author.id, "lang": lang})
        assert [m.id for m in Message.objects.raw(sql, params)] == expected
    assert len(query.cache) == 1  # compiled once


def test_a_value_the_query_transforms_is_refused_at_compile_time():
    def prefixed(*, lang):
        return Message.objects.filter(lang__startswith=lang)  # the ORM adds a "%" to it

    with pytest.raises(RuntimeError, match="cannot place"):
        CompiledQuery(prefixed, sentinels={"lang": "xx"}).statement({"lang": "en"})


def test_rows_and_fetch_return_what_the_queryset_returns():
    """Values come back converted as the QuerySet converts them (JSON decoded, UUIDs and
    dates as Python objects), and fetch gives model instances."""
    from backend.trees.models import Task

    def tasks_of(*, user_id):
        return Task.objects.filter(user_id=user_id).values_list(
            "id", "payload", "created_at", "done"
        )

    user = make_user()
    Task.objects.create(
        payload_type="initial_prompt", payload={"a": [1]}, user=user, api_client=user.api_client
    )
    rows = CompiledQuery(tasks_of, sentinels={"user_id": SENTINEL_IDS[0]}).rows(
        {"user_id": user.id}
    )
    assert rows == list(tasks_of(user_id=user.id))
    assert rows[0][1] == {"a": [1]}

    fetched = CompiledQuery(
        lambda user_id: Task.objects.filter(user_id=user_id), sentinels={"user_id": SENTINEL_IDS[0]}
    ).fetch({"user_id": user.id})
    assert [(t.id, t.payload) for t in fetched] == [(rows[0][0], {"a": [1]})]
