"""The tree-growth configuration stored in the database: read, update, roll back.

Exactly one version is active. Every change adds a version (who, when, why) instead of
editing one, so any earlier version can be restored. Readers pay one small indexed query per
request and parse the values only when the active version changed, which is what makes an
update take effect on the next request in every web and worker process without a restart.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import Max

from backend.compiled_query import CompiledQuery
from backend.trees import journal
from backend.trees.core.config import ConfigError, TreeManagerConfig
from backend.trees.models import TreeGrowthConfig

_parsed_lock = threading.Lock()
_parsed: dict[tuple, TreeManagerConfig] = {}
_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(TreeManagerConfig))


class UnknownConfigVersion(LookupError):
    pass


class StaleConfigVersion(Exception):
    """Another version became active since the caller looked (its ``base_version``)."""


# Read on every request and job, so compiled once (``backend.compiled_query``); the values
# are read only when the active version is one this process has not parsed yet.
_ACTIVE_IDENTITY = CompiledQuery(
    lambda: TreeGrowthConfig.objects.filter(is_active=True).values_list(
        "pk", "version", "created_at"
    )[:1],
    sentinels={},
)


def active_config() -> TreeManagerConfig:
    """The configuration in force now (defaults if the table is empty)."""
    global _last_seen
    found = _ACTIVE_IDENTITY.rows({})
    if not found:
        _last_seen = None
        return TreeManagerConfig()
    key = tuple(found[0])
    parsed = _parsed.get(key)
    if parsed is None:
        values = TreeGrowthConfig.objects.values_list("values", flat=True).get(pk=key[0])
        # A stored version that no longer validates (a parameter was removed from the code)
        # falls back to defaults for what is unknown rather than stopping every request.
        known = {k: v for k, v in values.items() if k in _FIELD_NAMES}
        parsed = TreeManagerConfig.from_dict(known)
        with _parsed_lock:
            _parsed[key] = parsed
    _last_seen = (key[0], parsed)
    return parsed


# The active version this process read last: (its pk, its values). A statement that reads the
# active version's pk alongside its own rows (``work_queries.eligible``) checks it against
# this instead of running ``active_config``'s query first.
_last_seen: tuple[int, TreeManagerConfig] | None = None


def last_seen_config() -> tuple[int, TreeManagerConfig] | None:
    return _last_seen


def active_pk_subquery():
    """The active version's pk as a subquery, for a read that checks ``last_seen_config``."""
    return TreeGrowthConfig.objects.filter(is_active=True).values("pk")[:1]


def active_version() -> TreeGrowthConfig | None:
    return TreeGrowthConfig.objects.filter(is_active=True).first()


def config_history() -> list[TreeGrowthConfig]:
    return list(TreeGrowthConfig.objects.order_by("-version"))


def config_version(version: int) -> TreeGrowthConfig | None:
    return TreeGrowthConfig.objects.filter(version=version).first()


def with_defaults(values: Mapping[str, Any]) -> dict[str, Any]:
    """A stored version's values with the defaults of parameters it does not store (a later
    release added them): what activating it again would put in force."""
    return {**TreeManagerConfig().to_dict(), **values}


@transaction.atomic
def update_config(
    *, changes: Mapping[str, Any], author: str, comment: str = "", replace: bool = False
) -> TreeGrowthConfig:
    """Validate and activate a new version.

    ``changes`` is merged over the active values, or taken whole when ``replace`` (missing
    parameters then take their defaults). Raises ``ConfigError`` listing every bad field;
    nothing is written then.
    """
    current = _lock_active()
    base = {} if replace or current is None else dict(current.values)
    merged = {**base, **dict(changes)}
    config = TreeManagerConfig.from_dict(merged)  # raises ConfigError with all problems
    return _activate(config.to_dict(), author=author, comment=comment, current=current)


@transaction.atomic
def rollback_config(
    *, version: int, author: str, comment: str = "", base_version: int | None = None
) -> TreeGrowthConfig:
    """Make the values of an earlier ``version`` active again, as a new version. With
    ``base_version`` (the version active when the caller showed what would change; 0 for the
    defaults), raise ``StaleConfigVersion`` if another one is active now."""
    current = _lock_active()
    active_number = current.version if current is not None else 0
    if base_version is not None and base_version != active_number:
        raise StaleConfigVersion(f"version {active_number} became active since")
    old = TreeGrowthConfig.objects.filter(version=version).first()
    if old is None:
        raise UnknownConfigVersion(f"no configuration version {version}")
    config = TreeManagerConfig.from_dict(old.values)
    note = comment or f"rollback to version {version}"
    return _activate(config.to_dict(), author=author, comment=note, current=current)


def _lock_active() -> TreeGrowthConfig | None:
    # Serialises concurrent updates: both would otherwise pick the same next version.
    return TreeGrowthConfig.objects.select_for_update().filter(is_active=True).first()


def _activate(
    values: dict[str, Any], *, author: str, comment: str, current: TreeGrowthConfig | None
) -> TreeGrowthConfig:
    if not author:
        raise ConfigError({"author": "a configuration change needs an author"})
    next_version = (TreeGrowthConfig.objects.aggregate(v=Max("version"))["v"] or 0) + 1
    if current is not None:
        TreeGrowthConfig.objects.filter(pk=current.pk).update(is_active=False)
    created = TreeGrowthConfig.objects.create(
        version=next_version, values=values, is_active=True, created_by=author, comment=comment
    )
    # A parameter an older version does not store had its default there (a later release
    # added it): compare with the defaults filled in, so it counts as changed only if it did.
    before = None
    if current is not None:
        before = {**TreeManagerConfig().to_dict(), **current.values}
    changed = sorted(key for key in values if before is None or before.get(key) != values[key])
    journal.record(
        "config_updated",
        payload={
            "version": next_version,
            "previous_version": current.version if current else None,
            "changed": changed,
        },
        actor=author,
    )
    # Every tree's ready work follows the new parameters in this same transaction; the sweep
    # then decides what the change made due (a message that now has enough reviews, R1).
    from backend.trees import ready_work
    from backend.trees.services.maintenance import enqueue_sweep

    ready_work.rebuild(TreeManagerConfig.from_dict(values))
    enqueue_sweep()
    return created
