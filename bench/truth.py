"""The hidden truth of a label-efficiency simulation: volunteers' traits, messages' worth.

Pure Python (no Django): who the volunteers really are (reliable, noisy, lazy, spammers that
vote at random or against the truth, how often each skips or writes spam), what each message
really is (a hidden quality and a hidden spam flag), and how a volunteer of a type labels a
message or orders replies (rankings drawn around the hidden qualities with a Thurstone or a
Plackett-Luce noise model). ``bench/label_efficiency.py`` drives Grove with it and scores
Grove's decisions against it. Every draw takes the caller's seeded ``random.Random``.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class Trait(enum.StrEnum):
    RELIABLE = "reliable"
    NOISY = "noisy"
    LAZY = "lazy"  # always the same label, the offered order
    SPAMMER_RANDOM = "spammer_random"  # votes and ranks at random
    SPAMMER_ADVERSARIAL = "spammer_adversarial"  # votes and ranks against the truth


class RankingModel(enum.StrEnum):
    THURSTONE = "thurstone"  # sort by quality + N(0, sigma)
    PLACKETT_LUCE = "plackett_luce"  # draw best-first with weights exp(quality / sigma)


@dataclass(frozen=True)
class Volunteer:
    """One volunteer's hidden traits.

    ``label_error``: probability that a review's spam verdict is wrong; ``ranking_noise``: the
    spread (sigma) of the ranking noise on the quality scale (qualities are N(0, 1));
    ``spam_rate``: share of the texts they write that are spam; ``skip_rate``: share of tasks
    they skip."""

    index: int
    trait: Trait
    label_error: float
    ranking_noise: float
    spam_rate: float
    skip_rate: float


@dataclass(frozen=True)
class MessageTruth:
    quality: float  # N(0, 1) for real texts; spam is drawn far below
    is_spam: bool

    @property
    def is_acceptable(self) -> bool:
        return not self.is_spam


def make_volunteer(index: int, trait: Trait, *, noise: float, skip_rate: float) -> Volunteer:
    """A volunteer of ``trait``; ``noise`` is the label error of noisy volunteers (their
    ranking noise grows with it)."""
    if trait is Trait.RELIABLE:
        return Volunteer(index, trait, 0.03, 0.35, 0.03, skip_rate)
    if trait is Trait.NOISY:
        return Volunteer(index, trait, noise, 0.35 + 3 * noise, 0.08, skip_rate)
    if trait is Trait.LAZY:
        return Volunteer(index, trait, 0.0, 0.0, 0.05, skip_rate)
    return Volunteer(index, trait, 0.5, 0.0, 0.6, skip_rate / 2)


# Shares of each trait per population (the three, plus a mix for exploration).
POPULATIONS: Mapping[str, Mapping[Trait, float]] = {
    "reliable": {Trait.RELIABLE: 0.85, Trait.NOISY: 0.10, Trait.LAZY: 0.05},
    "noisy30": {Trait.RELIABLE: 0.65, Trait.NOISY: 0.30, Trait.LAZY: 0.05},
    "spam10": {
        Trait.RELIABLE: 0.80,
        Trait.NOISY: 0.10,
        Trait.SPAMMER_RANDOM: 0.05,
        Trait.SPAMMER_ADVERSARIAL: 0.05,
    },
}


def make_population(
    name: str, count: int, rng: random.Random, *, noise: float = 0.3, skip_rate: float = 0.05
) -> list[Volunteer]:
    """``count`` volunteers with the population's shares (rounded, the rest reliable),
    in a seeded random order."""
    shares = POPULATIONS[name]
    traits: list[Trait] = []
    for trait, share in shares.items():
        if trait is not Trait.RELIABLE:
            traits += [trait] * round(share * count)
    traits += [Trait.RELIABLE] * (count - len(traits))
    rng.shuffle(traits)
    return [
        make_volunteer(i, trait, noise=noise, skip_rate=skip_rate) for i, trait in enumerate(traits)
    ]


def draw_message(author: Volunteer, rng: random.Random) -> MessageTruth:
    """A new text's hidden worth: spam at the author's rate, otherwise quality N(0, 1)."""
    if rng.random() < author.spam_rate:
        return MessageTruth(quality=-3.0 + rng.gauss(0.0, 0.3), is_spam=True)
    return MessageTruth(quality=rng.gauss(0.0, 1.0), is_spam=False)


def says_spam(volunteer: Volunteer, truth: MessageTruth, rng: random.Random) -> bool:
    """The spam verdict of one review."""
    if volunteer.trait is Trait.LAZY:
        return False
    if volunteer.trait is Trait.SPAMMER_RANDOM:
        return rng.random() < 0.5
    if volunteer.trait is Trait.SPAMMER_ADVERSARIAL:
        return not truth.is_spam
    wrong = rng.random() < volunteer.label_error
    return truth.is_spam != wrong


def review_labels(
    volunteer: Volunteer, truth: MessageTruth, valid: Sequence[str], rng: random.Random
) -> dict[str, float]:
    """One review's labels (only those the task allows): the spam verdict, no language
    mismatch, and a quality judgement on [0, 1] around the hidden quality."""
    spam = says_spam(volunteer, truth, rng)
    if volunteer.trait is Trait.LAZY:
        quality = 0.5
    elif volunteer.trait in (Trait.SPAMMER_RANDOM, Trait.SPAMMER_ADVERSARIAL):
        quality = rng.random()
    else:
        quality = _squash(truth.quality + rng.gauss(0.0, volunteer.ranking_noise))
    values = {
        "spam": 1.0 if spam else 0.0,
        "lang_mismatch": 0.0,
        "fails_task": 1.0 if spam else 0.0,
        "quality": round(quality, 3),
        "helpfulness": round(quality, 3),
    }
    return {name: value for name, value in values.items() if name in valid}


def rank(
    volunteer: Volunteer,
    qualities: Sequence[float],
    model: RankingModel,
    rng: random.Random,
) -> list[int]:
    """A ranking of the offered replies (indices, best first) by a volunteer of this type."""
    n = len(qualities)
    if volunteer.trait is Trait.LAZY:
        return list(range(n))
    if volunteer.trait is Trait.SPAMMER_RANDOM:
        return rng.sample(range(n), n)
    if volunteer.trait is Trait.SPAMMER_ADVERSARIAL:
        return sorted(range(n), key=lambda i: qualities[i])
    sigma = max(volunteer.ranking_noise, 1e-6)
    if model is RankingModel.THURSTONE:
        noisy = [q + rng.gauss(0.0, sigma) for q in qualities]
        return sorted(range(n), key=lambda i: -noisy[i])
    remaining = list(range(n))
    order = []
    while remaining:
        weights = [math.exp(qualities[i] / sigma) for i in remaining]
        pick = rng.choices(remaining, weights=weights)[0]
        order.append(pick)
        remaining.remove(pick)
    return order


def kendall_tau(order: Sequence[int], qualities: Sequence[float]) -> float:
    """Kendall's tau between an order (indices, best first) and the hidden qualities."""
    position = {item: pos for pos, item in enumerate(order)}
    concordant = discordant = 0
    for i in range(len(order)):
        for j in range(i + 1, len(order)):
            by_truth = qualities[i] - qualities[j]
            by_order = position[j] - position[i]  # > 0 when i is placed above j
            if by_truth == 0:
                continue
            if (by_truth > 0) == (by_order > 0):
                concordant += 1
            else:
                discordant += 1
    pairs = concordant + discordant
    return (concordant - discordant) / pairs if pairs else 0.0


def _squash(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))
