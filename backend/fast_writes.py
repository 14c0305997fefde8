"""INSERT and UPDATE statements built once per model and column set, for the request path.

``Model.objects.create`` and ``save(update_fields=...)`` build and compile a query on every
call: on the task cycle's hot path (a task row, a label row, a journal entry and a few
updates per request) that Python cost was a large share of a web process's CPU
(``bench/cycle_cpu.py --profile``). These helpers write the same rows with SQL built once
per process (per database vendor) and values prepared by the model's own fields
(``get_db_prep_save``, ``pre_save`` for defaults such as ``auto_now``). They send no model
signals: use them only for models that have no receivers (``backend.accounts.apps`` has
the project's only one, on ``ApiClient``).

``Batch`` collects such writes when nothing reads their results before the transaction's
next step, and sends them as one statement (PostgreSQL) instead of one round trip each.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import cache

from django.db import connection
from django.db.models import NOT_PROVIDED, AutoField, BigAutoField, Model, SmallAutoField
from django.db.models.expressions import DatabaseDefault

_AUTO = (AutoField, BigAutoField, SmallAutoField)


def insert(instance: Model) -> Model:
    """INSERT ``instance`` (every concrete field; a database-generated id is read back)."""
    model = type(instance)
    sql, fields, auto = _insert_statement(model, connection.vendor)
    params = _insert_params(instance, fields)
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


class Batch:
    """Writes sent together: on PostgreSQL one statement, each write a data-modifying ``WITH``
    part of it; elsewhere one statement each, in order.

    The parts of one PostgreSQL statement run on the same snapshot and do not see each
    other's changes: never put two writes to the same row in a batch, nor a write whose
    conditions read a row another part changes. (The project's foreign keys are checked at
    commit, so a part may insert a row that refers to another part's insert.) Inserted rows
    do not get database-generated ids back.
    """

    def __init__(self) -> None:
        self._parts: list[tuple[str, list]] = []

    def insert(self, instance: Model) -> Model:
        model = type(instance)
        sql, fields, _auto = _insert_statement(model, connection.vendor)
        self._parts.append((sql, _insert_params(instance, fields)))
        instance._state.adding = False
        instance._state.db = connection.alias
        return instance

    def update(self, model: type[Model], pk, values: Mapping[str, object]) -> None:
        sql, fields = _update_statement(model, tuple(values), connection.vendor)
        params = [f.get_db_prep_save(values[f.name], connection) for f in fields]
        params.append(model._meta.pk.get_db_prep_value(pk, connection))
        self._parts.append((sql, params))

    def increment(self, model: type[Model], pk, field: str, by: int = 1) -> None:
        sql = _increment_statement(model, field, connection.vendor)
        self._parts.append((sql, [by, model._meta.pk.get_db_prep_value(pk, connection)]))

    def delete(self, model: type[Model], pks: list) -> None:
        """DELETE the rows ``pks`` of ``model`` (no cascade in Python: the database's foreign
        keys decide, as for ``QuerySet._raw_delete``)."""
        if not pks:
            return
        opts = model._meta
        marks = ", ".join(["%s"] * len(pks))
        sql = f"DELETE FROM {_quote(opts.db_table)} WHERE {_quote(opts.pk.column)} IN ({marks})"
        self._parts.append((sql, [opts.pk.get_db_prep_value(pk, connection) for pk in pks]))

    def send(self, last: str | None = None, params: list | tuple = ()) -> tuple | None:
        """Run the collected writes, then ``last`` (a statement without ``WITH`` of its
        own) if given; its first row, or None."""
        parts, self._parts = self._parts, []
        with connection.cursor() as cursor:
            if connection.vendor != "postgresql":
                for sql, part_params in parts:
                    cursor.execute(sql, part_params)
                if last is None:
                    return None
                cursor.execute(last, list(params))
                return cursor.fetchone() if cursor.description else None
            if not parts and last is None:
                return None
            ctes = ", ".join(f"grove_w{i} AS ({sql})" for i, (sql, _) in enumerate(parts))
            statement = f"WITH {ctes} " if ctes else ""
            statement += last if last is not None else "SELECT 1"
            values = [value for _, part_params in parts for value in part_params]
            cursor.execute(statement, [*values, *params])
            if last is None or cursor.description is None:
                return None
            return cursor.fetchone()


def as_json_row(instance: Model) -> str:
    """``instance`` as a JSON object of column values, every concrete field but a
    database-generated id (defaults applied as an insert would): for SQL that inserts it
    with ``jsonb_populate_record``."""
    model = type(instance)
    _sql, fields, _auto = _insert_statement(model, connection.vendor)
    return json.dumps({f.column: f.pre_save(instance, True) for f in fields}, default=_json_value)


def _json_value(value):
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()  # full precision, with its offset
    raise TypeError(f"{type(value).__name__} has no JSON form here")


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _insert_params(instance: Model, fields) -> list:
    for f in _database_filled(type(instance)):
        if not isinstance(getattr(instance, f.attname), DatabaseDefault):
            raise ValueError(f"{f.name} is filled by the database here; it cannot be given")
    return [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]


@cache
def _database_filled(model: type[Model]) -> tuple:
    """Columns an insert leaves to the database: generated ones, and those whose only default
    is the database's (``db_default`` without ``default``, such as ``ReadyWork.draw``)."""
    return tuple(
        f
        for f in model._meta.concrete_fields
        if not f.generated and f.db_default is not NOT_PROVIDED and not f.has_default()
    )


@cache
def _insert_statement(model: type[Model], vendor: str):
    opts = model._meta
    auto = opts.pk if isinstance(opts.pk, _AUTO) else None
    filled = _database_filled(model)
    fields = [
        f for f in opts.concrete_fields if f is not auto and not f.generated and f not in filled
    ]
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
