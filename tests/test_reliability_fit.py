"""The vectorised reviewer-reliability EM against the pure core's reference."""

from __future__ import annotations

import random

import pytest

from backend.trees import reliability_fit
from backend.trees.core import reliability
from backend.trees.core.reliability import ReviewerSkill, Verdict

PRIOR = ReviewerSkill(0.9, 0.8)


def synthetic(seed: int, messages: int = 400) -> tuple[list[Verdict], dict]:
    """Three verdicts per message from 30 reviewers with hidden skills (a third careless, a
    tenth adversarial); 10 % of messages unacceptable."""
    rng = random.Random(seed)
    skills = {}
    for r in range(30):
        kind = rng.random()
        skills[r] = (0.5, 0.5) if kind < 0.3 else (0.1, 0.1) if kind < 0.4 else (0.97, 0.95)
    truth = {m: rng.random() > 0.1 for m in range(messages)}
    verdicts = []
    for m, good in truth.items():
        for r in rng.sample(range(30), 3):
            s, t = skills[r]
            says_good = rng.random() < s if good else rng.random() >= t
            verdicts.append(Verdict(f"m{m}", f"r{r}", says_good))
    return verdicts, truth


@pytest.mark.parametrize("seed,capped", [(1, False), (2, False), (3, False), (4, True)])
def test_the_vectorised_em_gives_the_references_estimate(seed, capped):
    verdicts, _truth = synthetic(seed)
    slow = reliability.dawid_skene(verdicts, prior=PRIOR, capped_specificity_prior=capped)
    fast = reliability_fit.dawid_skene(verdicts, prior=PRIOR, capped_specificity_prior=capped)
    assert fast.iterations == slow.iterations
    assert fast.reviews == slow.reviews
    assert fast.prevalence == pytest.approx(slow.prevalence, abs=1e-9)
    assert set(fast.posteriors) == set(slow.posteriors)
    for name, p in slow.posteriors.items():
        assert fast.posteriors[name] == pytest.approx(p, abs=1e-9)
    for name, skill in slow.skills.items():
        assert fast.skills[name].sensitivity == pytest.approx(skill.sensitivity, abs=1e-9)
        assert fast.skills[name].specificity == pytest.approx(skill.specificity, abs=1e-9)
    assert fast.disapprovals == slow.disapprovals


def test_the_vectorised_em_recovers_the_hidden_truth():
    """With 40 % of reviewers careless or adversarial, three verdicts per message: a majority
    vote gets 72 % of messages right (seed 7), the EM, which learns who to trust, 96.7 %."""
    verdicts, truth = synthetic(7, messages=2000)
    found = reliability_fit.dawid_skene(verdicts, prior=PRIOR)
    right = sum((found.posteriors[f"m{m}"] >= 0.5) == good for m, good in truth.items())
    said_good: dict[str, int] = {}
    for v in verdicts:
        said_good[v.item] = said_good.get(v.item, 0) + v.acceptable
    majority = sum((said_good[f"m{m}"] >= 2) == good for m, good in truth.items())
    assert right / len(truth) > 0.95
    assert majority / len(truth) < 0.8


def test_no_verdict_gives_the_references_empty_estimate():
    assert reliability_fit.dawid_skene([], prior=PRIOR) == reliability.dawid_skene([], prior=PRIOR)
