"""``backend.database`` reads timestamptz and jsonb with psycopg's C loaders, and they give
exactly what Django's own loaders give."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.pq import Format
from psycopg.types.string import TextLoader

from backend.database import base as grove_backend
from backend.trees.models import Task
from tests.builders import make_client, make_user

pytestmark = [
    pytest.mark.skipif(
        "connection.vendor != 'postgresql'", reason="psycopg's loaders are PostgreSQL's"
    ),
    pytest.mark.django_db,
]

TIMESTAMPS = [
    "2026-12-04 10:17:09.570493+00",
    "2026-03-29 01:30:00+02",  # an offset: converted to UTC
    "2026-10-25 02:59:59.999999-07:30",
    "1969-12-31 23:59:59.000001+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    "2000-02-29 12:00:00+14",
]
JSON_TEXTS = ['{"a": [1, 2.5, null, true], "ü": "\\u00e9"}', "[]", '"text"', "0"]
SQL = "SELECT %s::timestamptz, %s::jsonb"


def _rows(cursor) -> list[tuple]:
    rows = []
    for stamp in TIMESTAMPS:
        for text in JSON_TEXTS:
            cursor.execute(SQL, [stamp, text])
            rows.append(cursor.fetchone())
    return rows


def test_the_connection_reads_with_psycopgs_c_loaders():
    if not grove_backend._HAVE_C_LOADERS:
        pytest.skip("psycopg's binary package is not installed")
    with connection.cursor():
        pass
    adapters = connection.connection.adapters
    oid = {name: adapters.types[name].oid for name in ("timestamptz", "jsonb")}
    assert adapters.get_loader(oid["timestamptz"], Format.TEXT) is grove_backend._C_TIMESTAMPTZ
    assert adapters.get_loader(oid["jsonb"], Format.TEXT) is grove_backend._C_TEXT


def test_c_loaders_give_exactly_djangos_values():
    with connection.cursor() as cursor:
        ours = _rows(cursor)
    with connection.cursor() as cursor:
        # Django's own loaders, on this cursor only.
        register_tzloader(connection.timezone, cursor)
        cursor.cursor.adapters.register_loader("jsonb", TextLoader)
        djangos = _rows(cursor)
    assert ours == djangos
    for stamp, text in ours:
        assert stamp.tzinfo is datetime.UTC
        assert isinstance(text, str)
    assert ours[0][0] == datetime.datetime(2026, 12, 4, 10, 17, 9, 570493, tzinfo=datetime.UTC)
    assert ours[len(JSON_TEXTS)][0] == datetime.datetime(2026, 3, 28, 23, 30, tzinfo=datetime.UTC)


def test_models_and_named_cursors_read_aware_utc_datetimes():
    client = make_client()
    user = make_user(client)
    now = datetime.datetime(2026, 12, 4, 10, 0, 0, 123456, tzinfo=datetime.UTC)
    task = Task.objects.create(
        payload_type="initial_prompt",
        payload={"kind": "initial_prompt", "n": 1},
        api_client=client,
        user=user,
        created_at=now,
        expiry_date=now + datetime.timedelta(hours=2),
    )
    found = Task.objects.get(id=task.id)
    assert found.created_at == now and found.created_at.tzinfo is datetime.UTC
    assert found.payload == {"kind": "initial_prompt", "n": 1}
    # iterator() reads through a named (server-side) cursor: its own creation path.
    with connection.cursor():
        streamed = list(Task.objects.filter(id=task.id).iterator(chunk_size=1))
    assert [t.expiry_date for t in streamed] == [now + datetime.timedelta(hours=2)]


def test_another_time_zone_keeps_djangos_loaders():
    assert grove_backend.c_loaders_apply(datetime.UTC) == grove_backend._HAVE_C_LOADERS
    assert not grove_backend.c_loaders_apply(None)  # USE_TZ = False
    assert not grove_backend.c_loaders_apply(datetime.timezone(datetime.timedelta(hours=1)))
