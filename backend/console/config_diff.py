"""What a proposed tree-growth configuration changes against the active one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def config_diff(
    active: Mapping[str, Any], proposed: Mapping[str, Any], order: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """``[{"name", "before", "after"}]`` for every parameter whose value differs, in ``order``
    (the form's order) and then by name. Sequences compare as lists (JSON has no tuples)."""

    def plain(value: Any) -> Any:
        return list(value) if isinstance(value, tuple | list) else value

    position = {name: i for i, name in enumerate(order)}
    names = sorted({*active, *proposed}, key=lambda n: (position.get(n, len(position)), n))
    return [
        {"name": name, "before": plain(active.get(name)), "after": plain(proposed.get(name))}
        for name in names
        if plain(active.get(name)) != plain(proposed.get(name))
    ]
