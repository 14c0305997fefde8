"""PostgreSQL keeps the task table's statistics fresh (migration trees 0009): the task
request's lease counts are planned from the partial indexes of open tasks, whose sizes the
planner knows only from the last ANALYZE."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="autovacuum is PostgreSQL's"),
]


def test_the_task_table_is_analyzed_after_a_fixed_number_of_changes():
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'trees_task'")
        (options,) = cursor.fetchone()
    assert set(options or ()) >= {
        "autovacuum_analyze_scale_factor=0",
        "autovacuum_analyze_threshold=5000",
    }
