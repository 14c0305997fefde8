"""The schema's indexes: every foreign key is led by an index, and none is duplicated.

Django gives each foreign key a one-column index unless ``db_index=False``. Grove folds those
into composite indexes that lead with the same column (trees 0016-0018, accounts 0003, stats
0002), so a lookup by the key (a cascade, a protect check, a filter) still reads an index.
These tests fail when a fold leaves a key with no index in front, or when a one-column index
comes back beside a composite one that already serves it.
"""

import pytest
from django.apps import apps
from django.db import connection, models

pytestmark = pytest.mark.django_db

GROVE_APPS = ("accounts", "trees", "stats", "console")


def _grove_models():
    for app in GROVE_APPS:
        try:
            config = apps.get_app_config(app)
        except LookupError:
            continue
        yield from (m for m in config.get_models() if m._meta.managed)


def _indexes(table: str) -> list[dict]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return [c for c in found.values() if c["index"] or c["unique"] or c["primary_key"]]


def _partial(table: str) -> dict[str, str]:
    """The table's partial indexes: name -> condition."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, split_part(indexdef, ' WHERE ', 2) FROM pg_indexes"
            " WHERE tablename = %s AND indexdef LIKE %s",
            [table, "% WHERE %"],
        )
        return dict(cursor.fetchall())


def _serves_every_lookup(name: str, columns: list[str], partial: dict[str, str]) -> bool:
    """A full index serves every lookup by its first column; a partial one only when its
    condition is that the column is not null (which ``column = x`` implies)."""
    return name not in partial or partial[name] == f"({columns[0]} IS NOT NULL)"


def test_every_foreign_key_is_led_by_an_index():
    missing = []
    for model in _grove_models():
        table = model._meta.db_table
        partial = _partial(table)
        leading = {
            c["columns"][0]
            for name, c in (
                (name, c)
                for name, c in _constraint_items(table)
                if c["index"] or c["unique"] or c["primary_key"]
            )
            if c["columns"] and _serves_every_lookup(name, c["columns"], partial)
        }
        for field in model._meta.concrete_fields:
            if isinstance(field, models.ForeignKey) and field.column not in leading:
                missing.append(f"{table}.{field.column}")
    assert missing == [], missing


def test_no_one_column_index_beside_a_composite_one_that_leads_with_its_column():
    duplicated = []
    for model in _grove_models():
        table = model._meta.db_table
        partial = _partial(table)
        items = [(name, c) for name, c in _constraint_items(table) if c["index"] or c["unique"]]
        for name, single in items:
            if len(single["columns"]) != 1 or single["unique"] or name in partial:
                continue
            column = single["columns"][0]
            covering = [
                other
                for other, c in items
                if other != name
                and len(c["columns"]) > 1
                and c["columns"][0] == column
                and _serves_every_lookup(other, c["columns"], partial)
            ]
            if covering:
                duplicated.append((f"{table}.{name}", sorted(covering)))
    assert duplicated == [], duplicated


def _constraint_items(table: str):
    with connection.cursor() as cursor:
        return list(connection.introspection.get_constraints(cursor, table).items())
