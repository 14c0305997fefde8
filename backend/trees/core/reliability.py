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
stays at the prior. An "acceptable" verdict therefore weighs by the specificity the reviewer
has *shown* (``shown_specificity``: Laplace's rule over the unacceptable messages the estimate
says they judged), never by rejections the prior credits them with.
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
# The uninformative Beta(1, 1) prior of ``shown_specificity``: with no unacceptable message
# judged, an "acceptable" verdict is as likely from a bad message as a "not acceptable" one.
SHOWN_SPECIFICITY_PRIOR = (1.0, 1.0)


def is_acceptable_vote(review: Review) -> bool:
    return acceptance_score([review]) >= ACCEPTABLE_VOTE_SCORE


@dataclass(frozen=True)
class ReviewerSkill:
    """P(says acceptable | acceptable) and P(says unacceptable | unacceptable).

    ``shown_specificity``: the specificity the reviewer has shown (``shown_specificity``), which
    an "acceptable" verdict weighs by when set (the config's ``specificity_evidence``)."""

    sensitivity: float
    specificity: float
    shown_specificity: float | None = None

    @property
    def informativeness(self) -> float:
        """Youden's J, sensitivity + specificity - 1, floored at 0: how much better than
        chance this person tells good from bad (0 for random, always-the-same or adversarial
        answers). The adaptive ranking policy weights a ranker's ranking by it."""
        return max(0.0, self.sensitivity + self.specificity - 1.0)

    def vote_weight(self, acceptable: bool) -> float:
        """The log-likelihood ratio this reviewer's verdict adds to "acceptable".

        Clamped to the verdict's own direction: a reviewer who does worse than chance (an
        adversary) gets weight 0, never a flipped vote, so no one can steer a decision by
        being consistently wrong. An "acceptable" verdict uses ``shown_specificity`` when set:
        it is evidence only as far as the reviewer has been seen to reject bad messages."""
        s, t = _clip(self.sensitivity), _clip(self.specificity)
        if acceptable:
            if self.shown_specificity is not None:
                t = _clip(self.shown_specificity)
            return min(MAX_VOTE_WEIGHT, max(0.0, math.log(s / (1.0 - t))))
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
    # Per reviewer, the expected number of unacceptable items among those they judged, and
    # of those they called unacceptable (the counts behind their specificity, without prior).
    unacceptable_judged: Mapping[Hashable, float] = field(default_factory=dict)
    unacceptable_rejected: Mapping[Hashable, float] = field(default_factory=dict)


def dawid_skene(
    verdicts: Sequence[Verdict],
    *,
    prior: ReviewerSkill,
    prior_strength: float = 4.0,
    prior_prevalence: float = 0.9,
    max_iterations: int = 100,
    tolerance: float = 1e-6,
) -> Estimate:
    """Two-coin Dawid-Skene by EM, MAP with Beta priors.

    Each reviewer's skills start at ``prior`` and move with evidence: ``prior_strength``
    pseudo-verdicts hold them there (a reviewer with 2 reviews barely moves, with 50 the data
    decide). Items start from the prior-weighted vote. Stops when no posterior moves by more
    than ``tolerance``."""
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
            reviewer: _m_step(votes, posteriors, prior, prior_strength)
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
        unacceptable_judged={
            reviewer: sum(1.0 - posteriors[v.item] for v in votes)
            for reviewer, votes in by_reviewer.items()
        },
        unacceptable_rejected={
            reviewer: sum(1.0 - posteriors[v.item] for v in votes if not v.acceptable)
            for reviewer, votes in by_reviewer.items()
        },
    )


def shown_specificity(*, rejected: float, judged: float) -> float:
    """The specificity a reviewer has shown: of the ``judged`` unacceptable messages they
    reviewed (expected counts from the estimate), the share they called unacceptable, under
    the uninformative ``SHOWN_SPECIFICITY_PRIOR`` (Laplace's rule of succession). 0.5 for a
    reviewer who has met no bad message: their "acceptable" then carries little evidence, as
    it should, since nothing says they would have said otherwise."""
    a, b = SHOWN_SPECIFICITY_PRIOR
    return (rejected + a) / (judged + a + b)


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
) -> ReviewerSkill:
    # Expected counts of (truth, verdict) for this reviewer, plus the prior's pseudo-counts.
    good = sum(posteriors[v.item] for v in votes)
    good_said_good = sum(posteriors[v.item] for v in votes if v.acceptable)
    bad = len(votes) - good
    bad_said_bad = sum(1.0 - posteriors[v.item] for v in votes if not v.acceptable)
    return ReviewerSkill(
        sensitivity=(good_said_good + strength * prior.sensitivity) / (good + strength),
        specificity=(bad_said_bad + strength * prior.specificity) / (bad + strength),
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
