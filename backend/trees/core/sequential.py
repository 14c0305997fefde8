"""Adaptive policies: how many reviews a message and how many rankings a parent need. Pure.

OA's fixed policy asks every message for ``num_reviews_*`` reviews and every parent for
``num_required_rankings`` rankings. The adaptive policies of the tree-growth config ask as
many as the decision needs:

- ``review_policy = "sequential"``: after ``min_reviews`` reviews, decide once the posterior of
  the decision (``core.reliability``, each reviewer's verdict weighted by their estimated
  skill) reaches ``review_confidence``; otherwise ask one more reviewer, up to ``max_reviews``,
  where the more likely outcome is taken.
- ``ranking_policy = "adaptive"``: after ``min_rankings`` rankings, stop once the rankers agree
  (Kendall's W at least ``ranking_agreement``); otherwise ask one more, up to
  ``max_rankings``.

Every decision returns what it read (votes, weights, posterior, W) for the journal.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.consensus import ReviewOutcome
from backend.trees.core.reliability import ReviewerSkill, posterior_acceptable

# A ranking whose ranker is less informative than this (Youden's J of their reviews) does not
# count towards an adaptive parent's minimum or agreement (it still costs its slot).
MIN_RANKER_WEIGHT = 0.25


class ReviewPolicy(enum.StrEnum):
    FIXED = "fixed"  # OA: num_reviews_initial_prompt / num_reviews_reply, unweighted
    SEQUENTIAL = "sequential"


class RankingPolicy(enum.StrEnum):
    FIXED = "fixed"  # OA: num_required_rankings per parent
    ADAPTIVE = "adaptive"


class SelectionPolicy(enum.StrEnum):
    FIXED = "fixed"  # OA: uniform within a task category
    ACTIVE = "active"  # in proportion to the expected information of the next answer


# No piece of work is ever weighted below this (bits): an active draw never starves a message
# or parent, it only makes it less likely.
MIN_SELECTION_WEIGHT = 0.01


@dataclass(frozen=True)
class WeightedVote:
    reviewer: Hashable
    acceptable: bool
    skill: ReviewerSkill

    @property
    def weight(self) -> float:
        return self.skill.vote_weight(self.acceptable)


@dataclass(frozen=True)
class ReviewDecision:
    """``outcome`` None: not decided, ask ``reviews_required`` reviews in all."""

    outcome: ReviewOutcome | None
    posterior: float  # P(acceptable)
    reviews_required: int
    reason: str
    votes: tuple[WeightedVote, ...] = field(default=())
    prior: float | None = None  # P(acceptable) before the votes

    def explain(self) -> dict[str, Any]:
        return {
            "policy": ReviewPolicy.SEQUENTIAL.value,
            "prior_acceptable": None if self.prior is None else round(self.prior, 4),
            "posterior_acceptable": round(self.posterior, 4),
            "reason": self.reason,
            "reviews_required": self.reviews_required,
            "votes": [
                {
                    "user_id": str(v.reviewer),
                    "acceptable": v.acceptable,
                    "weight": round(v.weight, 3),
                    "sensitivity": round(v.skill.sensitivity, 3),
                    "specificity": round(v.skill.specificity, 3),
                    "always_approves": round(v.skill.always_approves, 3),
                }
                for v in self.votes
            ],
        }


def review_decision(
    votes: Sequence[WeightedVote], config: TreeManagerConfig, *, prior: float | None = None
) -> ReviewDecision:
    """The sequential decision on one message from the verdicts it holds.

    ``prior``: P(acceptable) before any vote (the author's record, ``reliability.author_prior``);
    None takes ``review_prior_acceptable``. Never decides with fewer than ``min_reviews``
    votes; always decides at ``max_reviews``."""
    start = config.review_prior_acceptable if prior is None else prior
    posterior = posterior_acceptable([(v.acceptable, v.skill) for v in votes], start)
    n = len(votes)

    def decision(outcome: ReviewOutcome | None, required: int, reason: str) -> ReviewDecision:
        return ReviewDecision(outcome, posterior, required, reason, tuple(votes), start)

    if n < config.min_reviews:
        return decision(None, config.min_reviews, "below_min_reviews")
    if posterior >= config.review_confidence:
        return decision(ReviewOutcome.ACCEPTED, n, "confident")
    if 1.0 - posterior >= config.review_confidence:
        return decision(ReviewOutcome.REJECTED, n, "confident")
    if n >= config.max_reviews:
        outcome = ReviewOutcome.ACCEPTED if posterior >= 0.5 else ReviewOutcome.REJECTED
        return decision(outcome, n, "max_reviews")
    return decision(None, n + 1, "uncertain")


def reviews_needed(is_prompt: bool, asked: int | None, config: TreeManagerConfig) -> int:
    """Reviews a message needs before its next decision: OA's fixed number, or for the
    sequential policy ``min_reviews`` raised to what an uncertain decision ``asked`` for
    (stored on the message), never above ``max_reviews``."""
    if config.review_policy == ReviewPolicy.FIXED:
        return config.num_reviews_initial_prompt if is_prompt else config.num_reviews_reply
    return min(config.max_reviews, max(config.min_reviews, asked or 0))


def rankings_needed(asked: int | None, config: TreeManagerConfig) -> int:
    """Rankings a parent needs: ``num_required_rankings``, or for the adaptive policy
    ``min_rankings`` raised to what a disagreement ``asked`` for, at most ``max_rankings``."""
    if config.ranking_policy == RankingPolicy.FIXED:
        return config.num_required_rankings
    return min(config.max_rankings, max(config.min_rankings, asked or 0))


# --- rankings ------------------------------------------------------------------------------


def kendalls_w(rankings: Sequence[Sequence[Hashable]]) -> float:
    """Kendall's coefficient of concordance of complete rankings (best first) over their
    common items: 1 when all agree, 0 when they cancel out. 1 for fewer than two rankings
    or items (nothing to disagree on)."""
    sets = [set(r) for r in rankings]
    common = set.intersection(*sets) if sets else set()
    m, n = len(rankings), len(common)
    if m < 2 or n < 2:
        return 1.0
    totals: dict[Hashable, int] = dict.fromkeys(common, 0)
    for ranking in rankings:
        for position, item in enumerate(i for i in ranking if i in common):
            totals[item] += position + 1
    mean = m * (n + 1) / 2
    spread = sum((total - mean) ** 2 for total in totals.values())
    return 12.0 * spread / (m * m * (n**3 - n))


@dataclass(frozen=True)
class RankingDecision:
    """``done``: the parent has the rankings it needs; else ask ``rankings_required``."""

    done: bool
    agreement: float
    rankings_required: int
    reason: str

    def explain(self) -> dict[str, Any]:
        return {
            "policy": RankingPolicy.ADAPTIVE.value,
            "kendalls_w": round(self.agreement, 4),
            "reason": self.reason,
            "rankings_required": self.rankings_required,
        }


def ranking_decision(
    rankings: Sequence[Sequence[Hashable]],
    config: TreeManagerConfig,
    weights: Sequence[float] | None = None,
) -> RankingDecision:
    """Adaptive rankings of one parent: enough once ``min_rankings`` informative rankings
    agree at ``ranking_agreement``, or at ``max_rankings`` rankings in all.

    ``weights`` (each ranker's informativeness, ``ReviewerSkill.informativeness``): rankings
    weighing less than ``MIN_RANKER_WEIGHT`` neither count towards the minimum nor the
    agreement; None counts every ranking."""
    n = len(rankings)
    informative = [
        ranking
        for ranking, weight in zip(rankings, weights or [1.0] * n, strict=True)
        if weight >= MIN_RANKER_WEIGHT
    ]
    agreement = kendalls_w(informative)
    if n >= config.max_rankings:
        return RankingDecision(True, agreement, n, "max_rankings")
    if n < config.min_rankings:
        return RankingDecision(False, agreement, config.min_rankings, "below_min_rankings")
    if len(informative) < config.min_rankings:
        return RankingDecision(False, agreement, n + 1, "too_few_informative")
    if agreement >= config.ranking_agreement:
        return RankingDecision(True, agreement, n, "agreed")
    return RankingDecision(False, agreement, n + 1, "disagreed")


def skill_of(
    reviewer: Hashable, skills: Mapping[Hashable, ReviewerSkill], config: TreeManagerConfig
) -> ReviewerSkill:
    """A reviewer's estimated skill, or the config's prior for one the estimate has not seen
    (or when ``reviewer_reliability`` is off: everyone counts as the prior).

    A reviewer never estimated may approve everything with the prior share
    ``always_approver_prior`` (``ReviewerSkill.always_approves``); an estimated one carries
    what their record says (``services.reliability.reviewer_skills``)."""
    prior = ReviewerSkill(config.reviewer_prior_sensitivity, config.reviewer_prior_specificity)
    if not config.reviewer_reliability:
        return prior
    newcomer = replace(prior, always_approves=config.always_approver_prior)
    return skills.get(reviewer, newcomer)


# --- active selection ----------------------------------------------------------------------


def _entropy(p: float) -> float:
    """Binary entropy in bits."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log2(p) + (1.0 - p) * math.log2(1.0 - p))


def review_information(posterior: float, skill: ReviewerSkill) -> float:
    """The expected information (bits) one more verdict by a reviewer of ``skill`` brings
    about a message now believed acceptable with probability ``posterior``: the mutual
    information of the verdict and the message's truth, H(p) - E[H(p | verdict)]. Largest
    for a disputed message (p near 0.5), small for one nearly decided; at least
    ``MIN_SELECTION_WEIGHT``. The active selection policy draws messages in proportion to it
    (with the config's prior reviewer skill: who will answer is not known when the ready
    work is written)."""
    p = min(1.0, max(0.0, posterior))
    s, t = skill.sensitivity, skill.specificity
    says_ok = p * s + (1.0 - p) * (1.0 - t)
    after_ok = p * s / says_ok if says_ok > 0 else p
    says_bad = 1.0 - says_ok
    after_bad = p * (1.0 - s) / says_bad if says_bad > 0 else p
    expected = says_ok * _entropy(after_ok) + says_bad * _entropy(after_bad)
    return max(MIN_SELECTION_WEIGHT, _entropy(p) - expected)


def ranking_information(agreement: float | None) -> float:
    """How much one more ranking of a parent's replies is expected to tell, from the
    agreement of the rankings it holds (Kendall's W of the informative ones, stored when a
    decision asked for more): 1 - W, so a parent whose rankers disagree most (the smallest
    margin between its orders) comes first; 1 for a parent with no decision yet (nothing
    known). At least ``MIN_SELECTION_WEIGHT``."""
    if agreement is None:
        return 1.0
    return max(MIN_SELECTION_WEIGHT, 1.0 - min(1.0, max(0.0, agreement)))
