"""The aggregated order of a parent's replies with its uncertainty: a Plackett-Luce fit.

Ranked pairs (OA's rule, ``core.consensus``) decides the ``rank`` Grove writes and exports.
Beside it, the scoring step (a worker: ``services.trees._score`` inside the advance job, never a
request) fits a Plackett-Luce model to the same rankings with ``choix`` and journals, in
``replies_scored``, each reply's strength (log-worth), a bootstrap standard error, and how often
the best reply stays best when the rankings are resampled (``p_best``): an admin sees whether
the order is settled or a coin toss. numpy is needed here, so this lives outside the pure core.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import choix
import numpy as np

# A ridge on the log-worths: keeps the fit finite when every ranking agrees (maximum
# likelihood would send the best reply's strength to infinity).
REGULARIZATION = 0.1
BOOTSTRAP_RESAMPLES = 100


@dataclass(frozen=True)
class FittedOrder:
    order: tuple[Hashable, ...]  # best first by fitted strength
    strength: dict[Hashable, float]  # log-worth, centred on 0
    stderr: dict[Hashable, float]  # bootstrap standard error of each strength
    p_best: float  # share of bootstrap fits whose best reply is ``order[0]``
    rankings: int

    def explain(self) -> dict[str, Any]:
        return {
            "order": [str(item) for item in self.order],
            "strength": {str(k): round(v, 3) for k, v in self.strength.items()},
            "stderr": {str(k): round(v, 3) for k, v in self.stderr.items()},
            "p_best": round(self.p_best, 3),
            "rankings": self.rankings,
        }


def fit_plackett_luce(
    rankings: Sequence[Sequence[Hashable]],
    *,
    weights: Sequence[float] | None = None,
    min_weight: float = 0.0,
    seed: int = 0,
) -> FittedOrder | None:
    """Plackett-Luce strengths of the items every ranking holds (best first in each ranking).

    Rankings whose weight is below ``min_weight`` are left out (an adversarial or random
    ranker, as in the adaptive ranking policy). None with fewer than two items or no ranking."""
    kept = [
        ranking
        for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True)
        if weight >= min_weight
    ]
    if not kept:
        return None
    common = set(kept[0]).intersection(*map(set, kept[1:]))
    items = sorted(common, key=str)
    if len(items) < 2:
        return None
    index = {item: i for i, item in enumerate(items)}
    data = [tuple(index[item] for item in ranking if item in common) for ranking in kept]
    strength = _fit(len(items), data)
    best = int(np.argmax(strength))
    rng = random.Random(seed)
    # A resample is a multiset of the rankings, and the fit does not depend on their order:
    # with OA's 3 rankings per parent, 100 resamples hold at most 10 distinct multisets, so
    # each is fitted once (a profile put this fit at half the advance job's CPU).
    # The resample that draws each ranking once is the data itself: fitted above.
    fits: dict[tuple[int, ...], np.ndarray] = {tuple(range(len(data))): strength}
    samples = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        drawn = tuple(sorted(rng.randrange(len(data)) for _ in data))
        if drawn not in fits:
            fits[drawn] = _fit(len(items), [data[i] for i in drawn])
        samples.append(fits[drawn])
    spread = np.std(np.array(samples), axis=0)
    p_best = sum(1 for s in samples if int(np.argmax(s)) == best) / len(samples)
    order = sorted(range(len(items)), key=lambda i: (-strength[i], str(items[i])))
    return FittedOrder(
        order=tuple(items[i] for i in order),
        strength={items[i]: float(strength[i]) for i in range(len(items))},
        stderr={items[i]: float(spread[i]) for i in range(len(items))},
        p_best=p_best,
        rankings=len(data),
    )


def _fit(n_items: int, data: Sequence[tuple[int, ...]]) -> np.ndarray:
    if len({len(ranking) for ranking in data}) == 1 and len(data[0]) >= 2:
        return _ilsr_full_rankings(n_items, data, REGULARIZATION)
    params = choix.ilsr_rankings(n_items, data, alpha=REGULARIZATION)
    return params - params.mean()


def _ilsr_full_rankings(
    n_items: int, data: Sequence[tuple[int, ...]], alpha: float, max_iter: int = 100
) -> np.ndarray:
    """choix's ``ilsr_rankings`` (iterative Luce spectral ranking, its convergence test and
    tolerance) for rankings of one length, as the fit above has them, in array operations:
    choix builds each iteration's Markov chain in Python loops and solves it with SciPy's LU,
    2.3 times the CPU for a parent with three rankings of three replies (0.41 against 0.18 ms
    a fit; the worker's profile at 16 clients put the fit at 16 % of its samples). Same
    strengths to rounding (``tests/test_ranking_fit.py`` compares the two on random data)."""
    ranks = np.asarray(data, dtype=np.intp)
    count, length = ranks.shape
    # Every (ranking, winner position, loser position) with the winner ranked higher.
    wins, loses = np.triu_indices(length, k=1)
    rows = np.repeat(np.arange(count), len(wins))
    wins, loses = np.tile(wins, count), np.tile(loses, count)
    cells = ranks[rows, loses] * n_items + ranks[rows, wins]  # chain[loser, winner]
    diagonal = np.arange(n_items) * (n_items + 1)
    unit = np.zeros(n_items)
    unit[-1] = 1.0
    weights = np.ones(n_items)
    previous = None
    for _ in range(max_iter):
        # 1 / (the weights of the items from each position down), per ranking and position.
        rates = 1.0 / np.cumsum(weights[ranks][:, ::-1], axis=1)[:, :0:-1]
        chain = alpha + np.bincount(cells, weights=rates[rows, wins], minlength=n_items**2)
        chain[diagonal] -= chain.reshape(n_items, n_items).sum(axis=1)
        # The stationary distribution: pi . chain = 0, its entries summing to one.
        system = chain.reshape(n_items, n_items).T.copy()
        system[-1, :] = 1.0
        stationary = np.linalg.solve(system, unit)
        params = np.log((n_items / stationary.sum()) * stationary)
        params -= params.mean()
        if previous is not None and np.abs(previous - params).sum() <= 1e-8 * n_items:
            return params
        previous = params
        worth = np.exp(params)
        weights = (n_items / worth.sum()) * worth
    raise RuntimeError(f"Did not converge after {max_iter} iterations")
