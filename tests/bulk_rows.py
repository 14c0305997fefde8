"""Many rows at once, written by SQL (``generate_series``), and what a transaction read of a
table (``pg_stat_xact_user_tables``): for the tests that check a statement reads only its own
rows however large a table grows (PostgreSQL only)."""

from __future__ import annotations

import itertools

from django.db import connection

_batches = itertools.count(1)

_INSERT_TASKS = """
INSERT INTO trees_task (id, payload_type, payload, frontend_message_id, ack, done, skipped,
    skip_reason, collective, created_at, expiry_date, api_client_id, message_tree_id,
    parent_message_id, user_id, lease_until, skipped_by_user)
SELECT gen_random_uuid(), 'label_prompter_reply', '{}', '', NULL, %(done)s, false, '', false,
    now() - %(age)s * interval '1 second', now() + interval '1 hour', %(client)s,
    %(tree)s, %(node)s, %(user)s,
    CASE WHEN %(done)s THEN NULL ELSE now() + interval '1 hour' END, false
FROM generate_series(1, %(n)s)
"""

_INSERT_PROMPTS = """
INSERT INTO trees_message (id, message_tree_id, parent_id, role, text, lang, depth,
    children_count, review_count, review_result, ranking_count, deleted, synthetic, edited,
    model_name, emojis, user_id, api_client_id, frontend_message_id, created_at)
SELECT gen_random_uuid(), %(tree)s, NULL, 'prompter', 'an earlier prompt ' || i, 'en', 0,
    0, 0, true, 0, false, false, false, '', '{}', %(user)s, %(client)s, %(prefix)s || i, now()
FROM generate_series(1, %(n)s) AS i
"""


def insert_tasks(*, client, user, n: int, done: bool, age_seconds: int, tree=None, node=None):
    """``n`` label tasks of ``user`` handed out ``age_seconds`` ago, valid for an hour: closed
    (``done``) or open with a live lease."""
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_TASKS,
            {
                "client": client.id,
                "user": user.id,
                "tree": tree,
                "node": node,
                "done": done,
                "age": age_seconds,
                "n": n,
            },
        )


def insert_prompts(*, tree_id, user, n: int) -> None:
    """``n`` accepted prompts by ``user`` in tree ``tree_id``."""
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_PROMPTS,
            {
                "tree": tree_id,
                "user": user.id,
                "client": user.api_client_id,
                "prefix": f"bulk{next(_batches)}-",
                "n": n,
            },
        )


def table_counts(table: str) -> dict[str, int]:
    """This transaction's rows of ``table`` updated, of those HOT, and read (by sequential
    scans and fetched through indexes)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(n_tup_upd, 0), coalesce(n_tup_hot_upd, 0),"
            " coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)"
            " FROM pg_stat_xact_user_tables WHERE relname = %s",
            [table],
        )
        row = cursor.fetchone() or (0, 0, 0)
    return {"updated": int(row[0]), "hot": int(row[1]), "read": int(row[2])}


def rows_read(table: str) -> int:
    return table_counts(table)["read"]
