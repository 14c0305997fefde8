"""Grove's live Dawid-Skene EM against Toloka's crowd-kit on the same synthetic reviews.

    python -m venv var/ckvenv && var/ckvenv/bin/pip install -r bench/requirements-eval.txt
    var/ckvenv/bin/python bench/crowdkit_check.py --seeds 1 2 3 4 5

Draws reviews with a hidden truth (``bench.truth`` volunteers: reliable, noisy, lazy, random
and adversarial spammers; messages spam at a population's rate; each message reviewed by a few
random volunteers) and aggregates them with ``backend.trees.core.reliability.dawid_skene``
(two-coin, MAP with Beta priors: what the worker runs) and with crowd-kit's DawidSkene, GLAD,
MACE and majority vote. Prints, per method: accuracy of the aggregated verdict against the
truth, good kept and spam rejected, agreement with crowd-kit's DawidSkene, and (for the two
Dawid-Skene fits) the mean absolute difference of each reviewer's estimated sensitivity and
specificity. Needs no database and no Django (the core is pure Python).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd
from crowdkit.aggregation import GLAD, MACE, DawidSkene, MajorityVote

from backend.trees.core.reliability import ReviewerSkill, Verdict, dawid_skene
from bench import truth


def draw(population: str, seed: int, messages: int, per_message: int, volunteers: int):
    rng = random.Random(seed)
    people = truth.make_population(population, volunteers, rng)
    hidden = {m: truth.draw_message(rng.choice(people), rng) for m in range(messages)}
    rows = []
    for m, message in hidden.items():
        for v in rng.sample(people, per_message):
            rows.append((m, v.index, not truth.says_spam(v, message, rng)))
    return people, hidden, rows


def compare(population: str, seed: int, messages: int, per_message: int, volunteers: int):
    people, hidden, rows = draw(population, seed, messages, per_message, volunteers)
    grove = dawid_skene([Verdict(m, w, ok) for m, w, ok in rows], prior=ReviewerSkill(0.9, 0.8))
    frame = pd.DataFrame(
        [(f"w{w}", m, "ok" if ok else "spam") for m, w, ok in rows],
        columns=["worker", "task", "label"],
    )
    verdicts = {"grove_ds": {m: p >= 0.5 for m, p in grove.posteriors.items()}}
    ds = DawidSkene(n_iter=100).fit(frame)
    for name, model in (
        ("crowdkit_ds", ds),
        ("crowdkit_glad", GLAD()),
        ("crowdkit_mace", MACE(random_state=seed)),
        ("majority", MajorityVote()),
    ):
        labels = model.labels_ if model is ds else model.fit_predict(frame)
        verdicts[name] = {int(m): label == "ok" for m, label in labels.items()}
    result = {}
    for name, found in verdicts.items():
        good = [m for m, t in hidden.items() if not t.is_spam]
        spam = [m for m, t in hidden.items() if t.is_spam]
        result[name] = {
            "accuracy": statistics.fmean(found[m] == (not hidden[m].is_spam) for m in hidden),
            "good_kept": statistics.fmean(found[m] for m in good),
            "spam_rejected": statistics.fmean(not found[m] for m in spam),
            "agrees_with_crowdkit_ds": statistics.fmean(
                found[m] == verdicts["crowdkit_ds"][m] for m in hidden
            ),
        }
    # Reviewer skills: crowd-kit's errors_ holds P(said label | true class) per worker, rows
    # (worker, said label), columns the true class; a label a worker never gave has no row.
    errors = ds.errors_
    diffs = []
    for v in people:
        worker = f"w{v.index}"
        if v.index not in grove.skills or worker not in errors.index.get_level_values(0):
            continue
        table = errors.loc[worker]
        sensitivity = float(table["ok"].get("ok", 0.0))
        specificity = float(table["spam"].get("spam", 0.0))
        mine = grove.skills[v.index]
        diffs.append(
            abs(mine.sensitivity - sensitivity) / 2 + abs(mine.specificity - specificity) / 2
        )
    result["grove_ds"]["skill_gap_to_crowdkit_ds"] = statistics.fmean(diffs)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--population", nargs="+", default=["reliable", "noisy30", "spam10"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--per-message", type=int, default=3)
    parser.add_argument("--volunteers", type=int, default=60)
    args = parser.parse_args()
    for population in args.population:
        runs = [
            compare(population, s, args.messages, args.per_message, args.volunteers)
            for s in args.seeds
        ]
        print(
            f"\n{population}: {args.messages} messages x {args.per_message} reviews, "
            f"seeds {args.seeds} (mean over seeds)"
        )
        measures = ["accuracy", "good_kept", "spam_rejected", "agrees_with_crowdkit_ds"]
        print(f"{'method':16}" + "".join(f"{m:>26}" for m in measures))
        for method in runs[0]:
            cells = "".join(
                f"{statistics.fmean(r[method][m] for r in runs):>26.4f}" for m in measures
            )
            print(f"{method:16}{cells}")
        gap = statistics.fmean(r["grove_ds"]["skill_gap_to_crowdkit_ds"] for r in runs)
        print(f"mean |grove - crowd-kit| of reviewer sensitivity/specificity: {gap:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
