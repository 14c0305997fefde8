"""How far each reviewer's verdicts can be trusted: a two-coin Dawid-Skene model. Pure Python.

A review's verdict is binary: the message is acceptable or not (``is_acceptable_vote``, OA's
acceptance score of that one review). Each reviewer has a hidden *sensitivity* (the chance
they call an acceptable message acceptable) and *specificity* (the chance they call an
unacceptable one unacceptable). ``dawid_skene`` estimates both for every reviewer, and each
message's posterior, by expectation-maximisation over all verdicts at once (Dawid and Skene,
1979), with a Beta prior so a reviewer with few reviews stays near ``prior``. The estimates
run in a worker (``services.reliability``), never on the request path; the review decision
reads them (``core.sequential``).

Two coins rather than one: a "lazy" reviewer who always answers "acceptable" agrees with
most consensus decisions (most messages are fine) and a one-coin model would trust them, but
their verdict carries no information: sensitivity 1, specificity 0, weight 0.

The estimate alone cannot see that when the lazy reviewer decides alone: the spam they
approved is judged acceptable, so they seem never to have met spam and their specificity
stays at the prior. So the model has a second kind of reviewer, one who approves everything
(``always_approver_probability``: how likely a reviewer is that kind, from a prior share and
the run of approvals without a single disapproval); an approval weighs by the mixture of both
kinds (``ReviewerSkill.vote_weight``). One disapproval rules the kind out.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from backend.trees.core.consensus import Review, acceptance_score

# A single review counts as a vote for "acceptable" when its own acceptance score
# (1 - spam - lang_mismatch) is at least this: OA's 0/1 labels give 1 or below 0.5.
ACCEPTABLE_VOTE_SCORE = 0.5
# Log-odds are clamped so one verdict never weighs more than a 99.9 % sure one.
MAX_VOTE_WEIGHT = math.log(999.0)
# An author's record moves their messages' prior only after a few messages: this many
# pseudo-messages at the base prior hold it (4 spam messages of 6 give 0.56 from 0.9).
AUTHOR_PRIOR_STRENGTH = 4.0


def is_acceptable_vote(review: Review) -> bool:
    return acceptance_score([review]) >= ACCEPTABLE_VOTE_SCORE


@dataclass(frozen=True)
class ReviewerSkill:
    """P(says acceptable | acceptable) and P(says unacceptable | unacceptable) of an engaged
    reviewer, and ``always_approves``: the probability that this reviewer is instead one who
    approves everything (``always_approver_probability``; 0: not considered)."""

    sensitivity: float
    specificity: float
    always_approves: float = 0.0

    @property
    def informativeness(self) -> float:
        """Youden's J, sensitivity + specificity - 1, floored at 0: how much better than
        chance this person tells good from bad (0 for random, always-the-same or adversarial
        answers), times the chance the reviewer is engaged (1 - ``always_approves``). The
        adaptive ranking policy weights a ranker's ranking by it."""
        return (1.0 - self.always_approves) * max(0.0, self.sensitivity + self.specificity - 1.0)

    def vote_weight(self, acceptable: bool) -> float:
        """The log-likelihood ratio this reviewer's verdict adds to "acceptable".

        Clamped to the verdict's own direction: a reviewer who does worse than chance (an
        adversary) gets weight 0, never a flipped vote, so no one can steer a decision by
        being consistently wrong. An approval is weighed under the mixture of an engaged
        reviewer and one who approves everything (who approves a bad message as surely as a
        good one): P(ok | acceptable) / P(ok | unacceptable) =
        (q + (1 - q) s) / (q + (1 - q) (1 - t)) with q = ``always_approves``. A disapproval
        comes from an engaged reviewer only, so it keeps its two-coin weight."""
        s, t = _clip(self.sensitivity), _clip(self.specificity)
        if acceptable:
            q = min(1.0, max(0.0, self.always_approves))
            ratio = (q + (1.0 - q) * s) / (q + (1.0 - q) * (1.0 - t))
            return min(MAX_VOTE_WEIGHT, max(0.0, math.log(ratio)))
        return max(-MAX_VOTE_WEIGHT, min(0.0, math.log((1.0 - s) / t)))


@dataclass(frozen=True)
class Verdict:
    """One review reduced to what the model reads."""

    item: Hashable
    reviewer: Hashable
    acceptable: bool


@dataclass(frozen=True)
class Estimate:
    skills: Mapping[Hashable, ReviewerSkill]
    posteriors: Mapping[Hashable, float]  # P(acceptable) per item
    prevalence: float  # share of acceptable items
    iterations: int
    reviews: Mapping[Hashable, int]  # verdicts per reviewer
    # "not acceptable" verdicts per reviewer (always_approver_probability reads them)
    disapprovals: Mapping[Hashable, int] = field(default_factory=dict)


def dawid_skene(
    verdicts: Sequence[Verdict],
    *,
    prior: ReviewerSkill,
    prior_strength: float = 4.0,
    prior_prevalence: float = 0.9,
    max_iterations: int = 100,
    tolerance: float = 1e-6,
    capped_specificity_prior: bool = False,
) -> Estimate:
    """Two-coin Dawid-Skene by EM, MAP with Beta priors.

    Each reviewer's skills start at ``prior`` and move with evidence: ``prior_strength``
    pseudo-verdicts hold them there (a reviewer with 2 reviews barely moves, with 50 the data
    decide). Items start from the prior-weighted vote. Stops when no posterior moves by more
    than ``tolerance``.

    ``capped_specificity_prior``: a reviewer's specificity is held at no more than the
    sensitivity they show (their own M-step estimate), not at ``prior.specificity``. Most
    messages are acceptable, so sensitivity is measured on many messages and specificity on
    few; a reviewer who errs on 30 % of good messages is not presumed to catch 80 % of bad
    ones until they have shown it."""
    by_item: dict[Hashable, list[Verdict]] = defaultdict(list)
    by_reviewer: dict[Hashable, list[Verdict]] = defaultdict(list)
    for verdict in verdicts:
        by_item[verdict.item].append(verdict)
        by_reviewer[verdict.reviewer].append(verdict)
    skills = dict.fromkeys(by_reviewer, prior)
    prevalence = prior_prevalence
    posteriors: dict[Hashable, float] = {}
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 (reported)
        new = {
            item: posterior_acceptable(
                [(v.acceptable, skills[v.reviewer]) for v in votes], prevalence, clamp=False
            )
            for item, votes in by_item.items()
        }
        moved = max((abs(new[i] - posteriors.get(i, 2.0)) for i in new), default=0.0)
        posteriors = new
        skills = {
            reviewer: _m_step(votes, posteriors, prior, prior_strength, capped_specificity_prior)
            for reviewer, votes in by_reviewer.items()
        }
        pseudo = prior_strength
        prevalence = (sum(posteriors.values()) + pseudo * prior_prevalence) / (
            len(posteriors) + pseudo
        )
        if moved < tolerance:
            break
    return Estimate(
        skills=skills,
        posteriors=posteriors,
        prevalence=prevalence,
        iterations=iterations,
        reviews={reviewer: len(votes) for reviewer, votes in by_reviewer.items()},
        disapprovals={
            reviewer: sum(not v.acceptable for v in votes)
            for reviewer, votes in by_reviewer.items()
        },
    )


def always_approver_probability(
    *, reviews: int, disapprovals: int, skill: ReviewerSkill, prevalence: float, share: float
) -> float:
    """How likely a reviewer approves everything, given ``reviews`` verdicts of which
    ``disapprovals`` said "not acceptable": 0 after any disapproval; otherwise Bayes' rule
    between the prior ``share`` of such reviewers and an engaged reviewer of ``skill``, who
    disapproves a message with probability r = (1 - prevalence) t + prevalence (1 - s), so
    goes ``reviews`` verdicts without one with probability (1 - r) ** reviews.

    A newcomer is at ``share``; an engaged reviewer soon disapproves something (a reliable one
    about one message in ten at a spam share of 5-10 %), and a long run of approvals makes the
    "approves everything" kind likely: its approvals then weigh next to nothing."""
    if disapprovals > 0 or share <= 0.0:
        return 0.0
    s, t = _clip(skill.sensitivity), _clip(skill.specificity)
    disapproving = (1.0 - prevalence) * t + prevalence * (1.0 - s)
    engaged = (1.0 - share) * (1.0 - disapproving) ** reviews
    return share / (share + engaged)


def author_prior(posteriors: Sequence[float], *, base: float, ceiling: float) -> float:
    """P(acceptable) of an author's next message before any review: the share of their
    earlier messages the estimate judged acceptable (``Estimate.posteriors``), shrunk toward
    ``base`` by ``AUTHOR_PRIOR_STRENGTH`` pseudo-messages, and never above ``ceiling``.

    A spam writer's next message needs more agreeing reviews; an author with a clean record
    needs less evidence, but the ceiling (below the review confidence) keeps one verdict
    necessary: a good record alone, or with a worthless vote (a spammer's, a lazy "ok"),
    never accepts a message."""
    shrunk = (sum(posteriors) + AUTHOR_PRIOR_STRENGTH * base) / (
        len(posteriors) + AUTHOR_PRIOR_STRENGTH
    )
    return min(ceiling, shrunk)


def posterior_acceptable(
    votes: Sequence[tuple[bool, ReviewerSkill]], prevalence: float, *, clamp: bool = True
) -> float:
    """P(acceptable | the verdicts) under the two-coin model with prior ``prevalence``.

    ``clamp`` applies ``ReviewerSkill.vote_weight``'s protection against adversaries (the live
    decision); the EM itself uses the plain likelihood ratios."""
    log_odds = _logit(prevalence)
    for acceptable, skill in votes:
        if clamp:
            log_odds += skill.vote_weight(acceptable)
        else:
            s, t = _clip(skill.sensitivity), _clip(skill.specificity)
            log_odds += math.log(s / (1 - t)) if acceptable else math.log((1 - s) / t)
    return _sigmoid(log_odds)


def _m_step(
    votes: Sequence[Verdict],
    posteriors: Mapping[Hashable, float],
    prior: ReviewerSkill,
    strength: float,
    capped: bool,
) -> ReviewerSkill:
    # Expected counts of (truth, verdict) for this reviewer, plus the prior's pseudo-counts.
    good = sum(posteriors[v.item] for v in votes)
    good_said_good = sum(posteriors[v.item] for v in votes if v.acceptable)
    bad = len(votes) - good
    bad_said_bad = sum(1.0 - posteriors[v.item] for v in votes if not v.acceptable)
    sensitivity = (good_said_good + strength * prior.sensitivity) / (good + strength)
    held_at = min(prior.specificity, sensitivity) if capped else prior.specificity
    return ReviewerSkill(
        sensitivity=sensitivity,
        specificity=(bad_said_bad + strength * held_at) / (bad + strength),
    )


def _clip(p: float) -> float:
    return min(1.0 - 1e-6, max(1e-6, p))


def _logit(p: float) -> float:
    p = _clip(p)
    return math.log(p / (1.0 - p))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
