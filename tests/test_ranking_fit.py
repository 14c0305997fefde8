"""The Plackett-Luce fit beside ranked pairs, on synthetic rankings with a known order."""

from __future__ import annotations

import random

import choix
import numpy as np
import pytest

from backend.trees.ranking_fit import fit_plackett_luce


def drawn_rankings(count: int, seed: int, worths=(1.5, 0.5, 0.0, -1.0)) -> list[list[str]]:
    """``count`` rankings (best first) of items a, b, c, d drawn from Plackett-Luce.

    choix draws the items of each ranking with the ``random`` module and their order with
    numpy's: both seeded, or the draw depended on which tests ran before in the process."""
    random.seed(seed)
    np.random.seed(seed)
    names = "abcd"[: len(worths)]
    drawn = choix.generate_rankings(np.array(worths), count, len(worths))
    return [[names[i] for i in ranking] for ranking in drawn]


def test_the_fit_recovers_the_hidden_order_from_many_rankings():
    found = fit_plackett_luce(drawn_rankings(300, seed=3))
    assert found is not None
    assert found.order == ("a", "b", "c", "d")
    assert found.p_best > 0.95


def test_the_standard_error_shrinks_with_more_rankings():
    few = fit_plackett_luce(drawn_rankings(5, seed=4))
    many = fit_plackett_luce(drawn_rankings(200, seed=4))
    assert few is not None and many is not None
    assert max(many.stderr.values()) < min(few.stderr.values())


def test_unanimous_rankings_give_a_finite_fit():
    found = fit_plackett_luce([["x", "y", "z"]] * 3)
    assert found is not None
    assert found.order == ("x", "y", "z")
    assert all(abs(s) < 10 for s in found.strength.values())
    assert found.p_best == 1.0


def test_rankings_below_the_minimum_weight_are_left_out():
    honest = [["a", "b", "c"]] * 2
    adversary = [["c", "b", "a"]] * 3
    found = fit_plackett_luce(honest + adversary, weights=[0.9, 0.9, 0, 0, 0], min_weight=0.25)
    assert found is not None
    assert found.order == ("a", "b", "c")
    assert found.rankings == 2


def test_only_items_every_ranking_holds_are_fitted():
    found = fit_plackett_luce([["a", "b", "c"], ["b", "a"]])
    assert found is not None
    assert set(found.order) == {"a", "b"}
    assert fit_plackett_luce([["a"]]) is None


def test_each_distinct_resample_is_fitted_once_and_the_errors_match_a_fit_of_every_draw(
    monkeypatch,
):
    """Three rankings give at most 10 distinct bootstrap multisets, one of them the data
    itself (fitted once for the order): 10 fits, not 101, and the same standard errors and
    p_best as fitting every one of the 100 draws."""
    import random

    import numpy as np

    from backend.trees import ranking_fit

    rankings = [["a", "b", "c", "d"], ["b", "a", "c", "d"], ["a", "c", "b", "d"]]
    index = {item: i for i, item in enumerate(sorted("abcd"))}
    data = [tuple(index[item] for item in ranking) for ranking in rankings]
    rng = random.Random(7)
    every_draw = [
        ranking_fit._fit(4, [data[rng.randrange(3)] for _ in data])
        for _ in range(ranking_fit.BOOTSTRAP_RESAMPLES)
    ]
    calls = []
    real_fit = ranking_fit._fit
    monkeypatch.setattr(ranking_fit, "_fit", lambda n, d: calls.append(d) or real_fit(n, d))

    found = fit_plackett_luce(rankings, seed=7)

    assert len(calls) <= 10
    assert calls.count(data) == 1
    spread = np.std(np.array(every_draw), axis=0)
    for item, i in index.items():
        assert found.stderr[item] == pytest.approx(float(spread[i]), abs=1e-9)
    best = int(np.argmax(real_fit(4, data)))
    assert found.p_best == sum(int(np.argmax(s)) == best for s in every_draw) / len(every_draw)


def test_the_array_ilsr_gives_chois_strengths():
    """``_fit`` for rankings of one length runs ILSR in array operations: the strengths
    choix's ``ilsr_rankings`` gives, to rounding, on 2,000 random sets of rankings (2 to 6
    items, 1 to 8 rankings, ties of order included by repeated rankings)."""
    from backend.trees import ranking_fit

    rng = random.Random(11)
    for _ in range(2000):
        n = rng.randint(2, 6)
        data = [tuple(rng.sample(range(n), n)) for _ in range(rng.randint(1, 8))]
        data += data[: rng.randint(0, 2)]
        expected = choix.ilsr_rankings(n, data, alpha=ranking_fit.REGULARIZATION)
        found = ranking_fit._fit(n, data)
        assert np.abs(found - (expected - expected.mean())).max() < 1e-9, data
