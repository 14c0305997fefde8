"""ORM queries compiled to SQL once per process, then run with each call's values.

Building a Django query with several subqueries and compiling it costs far more Python than
the database spends answering it (py-spy on the task request path: about a third of a web
process's CPU went to ``eligible``'s compilation alone). When only the values change, the
query is built once with sentinel values, their positions among the parameters remembered,
and each call puts its own values, prepared as the fields prepare them, in those positions.
The statement is refused, never run wrong, when a sentinel cannot be found.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from django.db import connection
from django.db.models import DateTimeField, UUIDField

SENTINEL_TIMES = (
    datetime(2001, 2, 3, 4, 5, 6, 7, tzinfo=UTC),
    datetime(2002, 3, 4, 5, 6, 7, 8, tzinfo=UTC),
)
SENTINEL_IDS = (
    uuid.UUID("6f1e0b5e-0000-4000-8000-00000000c0de"),
    uuid.UUID("6f1e0b5e-0000-4000-8000-00000000c0df"),
    uuid.UUID("6f1e0b5e-0000-4000-8000-00000000c0e0"),
)
_UUID = UUIDField()
_DATETIME = DateTimeField()


def compiled_once(maxsize: int) -> Callable[[Callable], Callable]:
    """``function``'s result for each set of arguments, computed once per process. A first
    call made by many threads at once computes it once: the others wait for it.

    With ``functools.lru_cache`` every thread that missed computed it: the first burst on a
    new web process had its sixteen request threads each compile the task request's sampled
    read (about 0.2 s of CPU each on a 2-core box, under one GIL), each holding a database
    connection, and requests past the sixteenth waited for a connection beyond the pool's
    timeout (tests/db/test_http_concurrency.py answered 503 "database unavailable").
    At most ``maxsize`` results are kept (the oldest goes first): arguments may come from
    requests (a language)."""

    def decorate(function: Callable) -> Callable:
        cache: dict[tuple, object] = {}
        lock = threading.RLock()

        @functools.wraps(function)
        def once(*args):
            try:
                return cache[args]
            except KeyError:
                pass
            with lock:
                if args not in cache:
                    while len(cache) >= maxsize:
                        del cache[next(iter(cache))]
                    cache[args] = function(*args)
                return cache[args]

        once.cache_clear = cache.clear  # type: ignore[attr-defined]
        return once

    return decorate


class CompiledQuery:
    """``build(**values, **flags)`` returns a QuerySet; ``statement`` gives its SQL and params.

    A value of None and each flag may change the query's shape, so every combination is
    compiled once (per database vendor). ``vanish`` names the values a None value removes
    from the query along with its own (``{"user_id": {"since"}}``).
    """

    def __init__(
        self,
        build: Callable,
        *,
        sentinels: Mapping[str, object],
        vanish: Mapping[str, set[str]] | None = None,
    ) -> None:
        self.build = build
        self._compiling = threading.RLock()
        self.sentinels = dict(sentinels)
        self.vanish = dict(vanish or {})
        self.cache: dict[tuple, tuple[str, list, dict[int, str]]] = {}
        self.models: dict[str, type] = {}  # the model each compiled statement selects
        # Per statement, Django's converters of its columns (as a QuerySet applies them).
        self.converters: dict[str, dict] = {}
        self.columns: dict[str, list] = {}  # the columns each statement selects

    def statement(self, values: Mapping[str, object], **flags) -> tuple[str, list]:
        absent = tuple(sorted(name for name, value in values.items() if value is None))
        key = (connection.vendor, absent, tuple(sorted(flags.items())))
        if key not in self.cache:
            # One thread compiles; the others wait for it (each compiling it too, sixteen
            # request threads of a new process did it sixteen times over, holding their
            # database connections meanwhile).
            with self._compiling:
                if key not in self.cache:
                    self.cache[key] = self._compile(absent, flags)
        sql, params, slots = self.cache[key]
        params = list(params)
        for position, name in slots.items():
            params[position] = db_value(values[name])
        return sql, params

    def fetch(
        self, values: Mapping[str, object], *, with_write: tuple[str, list] | None = None, **flags
    ) -> list:
        """The model instances the query selects (a query of whole rows: every concrete
        field, as ``Model.objects.filter(...)`` selects them), built as a QuerySet builds
        them (``Model.from_db``) without a QuerySet.

        ``with_write`` (PostgreSQL): an UPDATE or INSERT, with its parameters, sent in the
        same statement as a ``WITH`` part, one round trip for both. PostgreSQL runs such a
        part once, to completion, after the query's own rows are read (and locked, for a
        FOR UPDATE query), whatever the query finds."""
        sql, params = self.statement(values, **flags)
        model = self.models[sql]
        names = [f.attname for f in model._meta.concrete_fields]
        if len(self.columns[sql]) != len(names):
            raise RuntimeError(f"{sql[:60]}... does not select whole {model.__name__} rows")
        alias = connection.alias
        rows = self._run(sql, params, with_write)
        return [model.from_db(alias, names, row) for row in rows]

    def rows(self, values: Mapping[str, object], **flags) -> list[tuple]:
        """The query's rows (for ``values_list`` queries), each value converted as the
        QuerySet would convert it (UUIDs and JSON from SQLite's text, for instance)."""
        return self._run(*self.statement(values, **flags))

    def _run(
        self, sql: str, params: list, with_write: tuple[str, list] | None = None
    ) -> list[tuple]:
        converters = self.converters[sql]
        if with_write is not None:
            if connection.vendor != "postgresql":
                raise RuntimeError("with_write needs PostgreSQL's data-modifying WITH")
            sql, params = f"WITH grove_first AS ({with_write[0]}) {sql}", [*with_write[1], *params]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
        if not converters:
            return found
        rows = []
        for row in found:
            row = list(row)
            for i, (functions, expression) in converters.items():
                for convert in functions:
                    row[i] = convert(row[i], expression, connection)
            rows.append(tuple(row))
        return rows

    def _compile(self, absent: tuple, flags: dict) -> tuple[str, list, dict[int, str]]:
        values = {name: None if name in absent else v for name, v in self.sentinels.items()}
        queryset = self.build(**values, **flags)
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        self.models[sql] = queryset.model
        self.converters[sql] = compiler.get_converters([column[0] for column in compiler.select])
        self.columns[sql] = compiler.select
        by_prepared = {db_value(v): name for name, v in values.items() if v is not None}
        slots = {
            i: by_prepared[p]
            for i, p in enumerate(params)
            if not isinstance(p, list | dict) and p in by_prepared
        }
        required = {name for name, value in values.items() if value is not None}
        for name in absent:
            required -= self.vanish.get(name, set())
        missing = required - set(slots.values())
        if missing:
            raise RuntimeError(f"cannot place {sorted(missing)} in the compiled query")
        return sql, list(params), slots


def db_value(value):
    """``value`` as a UUID or date-time field hands it to the database driver (for raw SQL:
    SQLite stores UUIDs as hex text)."""
    if isinstance(value, uuid.UUID):
        return _UUID.get_db_prep_value(value, connection)
    if isinstance(value, datetime):
        return _DATETIME.get_db_prep_value(value, connection)
    return value


def uuid_from_db(value) -> uuid.UUID | None:
    """A UUID column read with raw SQL, as a UUID: PostgreSQL's driver decodes it, SQLite
    hands back hex text (``db_value``'s inverse)."""
    return value if value is None or isinstance(value, uuid.UUID) else uuid.UUID(value)
