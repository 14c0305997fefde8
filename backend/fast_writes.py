"""INSERT and UPDATE statements built once per model and column set, for the request path.

``Model.objects.create`` and ``save(update_fields=...)`` build and compile a query on every
call: on the task cycle's hot path (a task row, a label row, a journal entry and a few
updates per request) that Python cost was a large share of a web process's CPU
(``bench/cycle_cpu.py --profile``). These helpers write the same rows with SQL built once
per process (per database vendor) and values prepared by the model's own fields
(``get_db_prep_save``, ``pre_save`` for defaults such as ``auto_now``). They send no model
signals: use them only for models that have no receivers (``backend.accounts.apps`` has
the project's only one, on ``ApiClient``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from django.db import connection
from django.db.models import AutoField, BigAutoField, Model, SmallAutoField

_AUTO = (AutoField, BigAutoField, SmallAutoField)


def insert(instance: Model) -> Model:
    """INSERT ``instance`` (every concrete field; a database-generated id is read back)."""
    model = type(instance)
    sql, fields, auto = _insert_statement(model, connection.vendor)
    params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if auto is not None:
            setattr(instance, auto.attname, cursor.fetchone()[0])
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


def update(model: type[Model], pk, values: Mapping[str, object]) -> int:
    """``UPDATE`` the row ``pk`` of ``model`` with ``values`` (field names); rows changed."""
    sql, fields = _update_statement(model, tuple(values), connection.vendor)
    params = [f.get_db_prep_save(values[f.name], connection) for f in fields]
    params.append(model._meta.pk.get_db_prep_value(pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def increment(model: type[Model], pk, field: str, by: int = 1) -> int:
    """``field = field + by`` on the row ``pk`` (no read, no lost update); rows changed."""
    sql = _increment_statement(model, field, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [by, model._meta.pk.get_db_prep_value(pk, connection)])
        return cursor.rowcount


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


@cache
def _insert_statement(model: type[Model], vendor: str):
    opts = model._meta
    auto = opts.pk if isinstance(opts.pk, _AUTO) else None
    fields = [f for f in opts.concrete_fields if f is not auto]
    columns = ", ".join(_quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {_quote(opts.db_table)} ({columns}) VALUES ({marks})"
    if auto is not None:
        sql += f" RETURNING {_quote(auto.column)}"
    return sql, fields, auto


@cache
def _update_statement(model: type[Model], names: tuple[str, ...], vendor: str):
    opts = model._meta
    fields = [opts.get_field(name) for name in names]
    sets = ", ".join(f"{_quote(f.column)} = %s" for f in fields)
    sql = f"UPDATE {_quote(opts.db_table)} SET {sets} WHERE {_quote(opts.pk.column)} = %s"
    return sql, fields


@cache
def _increment_statement(model: type[Model], name: str, vendor: str) -> str:
    opts = model._meta
    column = _quote(opts.get_field(name).column)
    return (
        f"UPDATE {_quote(opts.db_table)} SET {column} = {column} + %s "
        f"WHERE {_quote(opts.pk.column)} = %s"
    )
