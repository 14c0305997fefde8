"""The service-level task request (no HTTP: simulators, benchmarks, push dispatch) runs the
same statements as the HTTP path, which hands it the request's API client."""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.accounts.models import ApiClient, User
from backend.trees.core.policy import TaskKind
from backend.trees.services.tasks import request_task
from tests.builders import make_client, make_tree, make_user

pytestmark = pytest.mark.django_db


def queries_of_a_request(user: User, **client) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        task = request_task(
            user=user, kind=TaskKind.RANDOM, lang="en", rng=random.Random(1), **client
        )
    assert task.api_client_id == user.api_client_id
    return [query["sql"] for query in ctx.captured_queries]


def test_a_task_request_without_the_api_client_reads_no_api_client_row():
    client = make_client()
    for _ in range(2):
        make_tree(author=make_user(client), state="growing")
    fresh = User.objects.get(id=make_user(client).id)  # its api_client not loaded
    other = User.objects.get(id=make_user(client).id)

    without = queries_of_a_request(fresh)
    given = queries_of_a_request(other, api_client=ApiClient.objects.get(id=client.id))

    assert [sql for sql in without if ApiClient._meta.db_table in sql] == []
    assert len(without) == len(given)
