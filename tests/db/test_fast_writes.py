"""backend.fast_writes: the rows it writes are the rows the ORM writes."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from backend.fast_writes import Batch, increment, insert, update
from backend.trees.core.task_kinds import CATEGORY_NUMBER, CATEGORY_OF, TaskKind
from backend.trees.models import JournalEntry, Message, ReadyWork, Task
from tests.builders import make_tree, make_user

pytestmark = pytest.mark.django_db


def test_an_inserted_journal_entry_reads_back_as_the_orm_would_store_it():
    fast = insert(JournalEntry(event_type="probe", payload={"a": [1, 2]}, actor="x"))
    orm = JournalEntry.objects.create(event_type="probe", payload={"a": [1, 2]}, actor="x")
    assert fast.id is not None and fast.id != orm.id  # the database's id, read back
    stored = model_to_dict(JournalEntry.objects.get(id=fast.id), exclude=["id", "created_at"])
    assert stored == model_to_dict(orm, exclude=["id", "created_at"])
    assert JournalEntry.objects.get(id=fast.id).created_at == fast.created_at


def test_an_inserted_task_keeps_its_defaults_and_json():
    user = make_user()
    task = insert(
        Task(
            payload_type="initial_prompt", payload={"k": "v"}, user=user, api_client=user.api_client
        )
    )
    stored = Task.objects.get(id=task.id)
    assert stored.payload == {"k": "v"} and stored.user_id == user.id
    assert (stored.done, stored.skipped, stored.ack) == (False, False, None)
    assert not task._state.adding


def test_update_and_increment_change_only_the_named_row_and_columns():
    user = make_user()
    first = insert(
        Task(payload_type="initial_prompt", payload={}, user=user, api_client=user.api_client)
    )
    second = insert(
        Task(payload_type="initial_prompt", payload={}, user=user, api_client=user.api_client)
    )
    assert update(Task, first.id, {"done": True, "frontend_message_id": "f-1"}) == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.done, first.frontend_message_id) == (True, "f-1")
    assert (second.done, second.frontend_message_id) == (False, "")

    prompt = make_tree(author=user)
    before = prompt.review_count
    assert increment(Message, prompt.id, "review_count") == 1
    assert increment(Message, prompt.id, "review_count", by=2) == 1
    prompt.refresh_from_db()
    assert prompt.review_count == before + 3


def test_a_batch_writes_every_row_in_one_statement_on_postgresql():
    user = make_user()
    prompt = make_tree(author=user)
    before = prompt.review_count
    task = Task(payload_type="initial_prompt", payload={}, user=user, api_client=user.api_client)
    writes = Batch()
    writes.insert(task)
    writes.insert(JournalEntry(event_type="probe", payload={"b": 1}, actor="batch"))
    writes.increment(Message, prompt.id, "review_count", by=2)
    with CaptureQueriesContext(connection) as sent:
        last = writes.send("SELECT %s + 1", [41])
    assert last == (42,)
    expected = 1 if connection.vendor == "postgresql" else 4  # three writes, then the SELECT
    assert len(sent.captured_queries) == expected
    assert Task.objects.filter(id=task.id, user=user).exists()
    assert JournalEntry.objects.filter(event_type="probe", actor="batch", payload={"b": 1}).exists()
    prompt.refresh_from_db()
    assert prompt.review_count == before + 2
    assert writes.send() is None  # sent writes are not sent again


def test_a_batch_that_fails_in_one_part_writes_nothing():
    user = make_user()
    task = insert(
        Task(payload_type="initial_prompt", payload={}, user=user, api_client=user.api_client)
    )
    writes = Batch()
    writes.insert(JournalEntry(event_type="probe-failed", payload={}))
    # The same primary key again: the whole statement fails.
    writes.insert(
        Task(
            id=task.id,
            payload_type="initial_prompt",
            payload={},
            user=user,
            api_client_id=user.api_client_id,
        )
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        writes.send()
    assert not JournalEntry.objects.filter(event_type="probe-failed").exists()


def test_a_batch_deletes_updates_and_inserts_index_rows_leaving_database_columns_to_it():
    """``ReadyWork`` has a generated column (``category``) and one filled only by the
    database (``draw``): an insert leaves both to it; a delete removes exactly its rows."""
    prompt = make_tree(author=make_user())
    ReadyWork.objects.filter(node=prompt).delete()  # the rows its indexing made
    keep = ReadyWork.objects.create(
        lang="en", kind="label_initial_prompt", node=prompt, tree_id=prompt.message_tree_id, slots=3
    )
    gone = ReadyWork.objects.create(
        lang="en",
        kind="rank_assistant_replies",
        node=prompt,
        tree_id=prompt.message_tree_id,
        slots=1,
    )
    writes = Batch()
    writes.delete(ReadyWork, [gone.id])
    writes.update(ReadyWork, keep.id, {"slots": 2, "child_ids": ["a"], "reviews": 1})
    writes.insert(
        ReadyWork(
            lang="en", kind="assistant_reply", node=prompt, tree_id=prompt.message_tree_id, slots=1
        )
    )
    writes.delete(ReadyWork, [])  # nothing to delete: no part
    with CaptureQueriesContext(connection) as sent:
        writes.send()
    assert len(sent.captured_queries) == (1 if connection.vendor == "postgresql" else 3)
    rows = {row.kind: row for row in ReadyWork.objects.filter(node=prompt)}
    assert set(rows) == {"label_initial_prompt", "assistant_reply"}
    assert (rows["label_initial_prompt"].slots, rows["label_initial_prompt"].child_ids) == (
        2,
        ["a"],
    )
    added = rows["assistant_reply"]
    assert 0 <= added.draw < 1
    assert added.category == CATEGORY_NUMBER[CATEGORY_OF[TaskKind.ASSISTANT_REPLY]]
    with pytest.raises(ValueError, match="draw"):
        Batch().insert(ReadyWork(lang="en", kind="assistant_reply", node=prompt, slots=1, draw=0.5))
