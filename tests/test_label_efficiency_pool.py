"""bench/label_efficiency.py --pool: runs are pooled only with runs of the same configuration."""

from __future__ import annotations

import json
from pathlib import Path

from backend.trees.core.config import TreeManagerConfig
from bench.label_efficiency import POLICIES, pool_reports


def saved_run(tmp_path: Path, name: str, *, seed: int, config: dict) -> Path:
    """A JSON report of one ``grove`` run as the benchmark writes it (``config``: the changes
    over OA's defaults it ran with), with made-up measures."""
    report = {
        "trees_exported": 10,
        "actions": {"prompt": 10, "reply": 100, "review": 200, "ranking": 80, "skip": 5},
        "answers_per_exported_tree": 39.0,
        "answers_on_exported_trees_per_tree": 38.0,
        "actions_per_exported_tree": {
            "prompt": 1.0,
            "reply": 10.0,
            "review": 20.0,
            "ranking": 8.0,
            "skip": 0.5,
        },
        "review": {
            "counts": {
                "good_kept": 95,
                "good_rejected": 1,
                "spam_rejected": 3,
                "spam_accepted": 1,
            }
        },
        "ranking": {
            "parents": 30,
            "kendall_tau_mean": 0.8,
            "kendall_tau_ci95": 0.05,
            "rankings_per_parent": 2.5,
        },
        "exported_messages": {"accepted_per_tree": 11.0},
        "wall_seconds": 1.0,
        "config": config,
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"settings": {"seed": seed}, "runs": {"noisy30/grove": report}}))
    return path


def test_a_run_without_a_setting_of_the_preset_is_not_pooled_with_the_preset(tmp_path):
    """A report records the changes over OA's defaults its run was made with. A run made
    before the preset gained a setting lacks that key: it ran at the setting's default, so it
    is another configuration, not the preset's."""
    preset = POLICIES["grove"]
    left_out = "review_confidence"
    older = {k: v for k, v in preset.items() if k != left_out}
    paths = [
        saved_run(tmp_path, f"{kind}{seed}", seed=seed, config=config)
        for seed in (1, 2)
        for kind, config in (("preset", dict(preset)), ("older", older))
    ]

    pooled = pool_reports(paths)

    assert len(pooled) == 2
    assert [p["seeds"] for p in pooled.values()] == [[1, 2], [1, 2]]
    assert "noisy30/grove x2" in pooled
    (other,) = set(pooled) - {"noisy30/grove x2"}
    default = getattr(TreeManagerConfig(), left_out)
    assert json.dumps({left_out: default}) in other  # the setting it ran at
