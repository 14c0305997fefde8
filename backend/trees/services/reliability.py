"""Estimating every reviewer's skill from all task reviews (a worker job, never a request).

``estimate_reviewer_reliability`` runs the Dawid-Skene EM (``core.reliability.dawid_skene``,
vectorised in ``reliability_fit``) over the most recent
task reviews and stores each reviewer's sensitivity and specificity (``ReviewerReliability``,
read-only in the admin); the sequential review policy weights verdicts by them
(``reviewer_skills``). From the same estimate it stores each author's record
(``core.reliability.author_prior``: the prior of their next message, ``author_priors``).
Run by beat as ``grove.tree.reviewer_reliability`` and by hand as
``manage.py estimate_reviewer_reliability``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from backend.trees import journal
from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.reliability import (
    ReviewerSkill,
    Verdict,
    always_approver_probability,
    author_prior,
    is_acceptable_vote,
)
from backend.trees.growth_config import active_config
from backend.trees.models import Message, ReviewerReliability, TextLabels
from backend.trees.reliability_fit import dawid_skene

# The estimate reads at most this many of the newest task reviews (a reviewer's skill is
# what they do now; the EM is linear in reviews).
MAX_REVIEWS_READ = 200_000


@dataclass(frozen=True)
class ReliabilityReport:
    reviewers: int
    authors: int
    verdicts: int
    prevalence: float
    iterations: int


@transaction.atomic
def estimate_reviewer_reliability(
    *, max_reviews: int = MAX_REVIEWS_READ, now: datetime | None = None
) -> ReliabilityReport:
    """Re-estimate and store every reviewer's skill; journals a summary."""
    config = active_config()
    rows = (
        TextLabels.objects.filter(task__isnull=False)
        .order_by("-created_at")
        .values_list("message_id", "user_id", "labels")[:max_reviews]
    )
    verdicts = [Verdict(m, u, is_acceptable_vote(labels)) for m, u, labels in rows]
    prior = ReviewerSkill(config.reviewer_prior_sensitivity, config.reviewer_prior_specificity)
    estimate = dawid_skene(
        verdicts,
        prior=prior,
        prior_prevalence=config.review_prior_acceptable,
        capped_specificity_prior=config.capped_specificity_prior,
    )
    authored: dict[uuid.UUID, list[float]] = defaultdict(list)
    for message_id, author_id in Message.objects.filter(
        id__in=list(estimate.posteriors)
    ).values_list("id", "user_id"):
        authored[author_id].append(estimate.posteriors[message_id])
    now = now or timezone.now()
    ReviewerReliability.objects.bulk_create(
        [
            ReviewerReliability(
                user_id=user_id,
                sensitivity=estimate.skills.get(user_id, prior).sensitivity,
                specificity=estimate.skills.get(user_id, prior).specificity,
                reviews=estimate.reviews.get(user_id, 0),
                disapprovals=estimate.disapprovals.get(user_id, 0),
                authored=len(authored.get(user_id, ())),
                author_prior=(
                    author_prior(
                        authored[user_id],
                        base=config.review_prior_acceptable,
                        ceiling=config.max_author_prior,
                    )
                    if user_id in authored
                    else None
                ),
                updated_at=now,
            )
            for user_id in sorted(set(estimate.skills) | set(authored), key=str)
        ],
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=list(ReviewerReliability.ESTIMATED_FIELDS),
    )
    report = ReliabilityReport(
        reviewers=len(estimate.skills),
        authors=len(authored),
        verdicts=len(verdicts),
        prevalence=estimate.prevalence,
        iterations=estimate.iterations,
    )
    journal.record("reviewer_reliability_estimated", payload=report.__dict__)
    return report


def reviewer_skills(
    user_ids: Iterable[uuid.UUID], config: TreeManagerConfig
) -> dict[uuid.UUID, ReviewerSkill]:
    """The stored skills of these reviewers, each with the probability that they approve
    everything (``always_approver_probability`` under ``config``'s prior share and base
    prevalence), those never estimated absent."""
    skills = {}
    for user_id, sensitivity, specificity, reviews, disapprovals in (
        ReviewerReliability.objects.filter(user_id__in=list(user_ids), reviews__gt=0)
    ).values_list("user_id", "sensitivity", "specificity", "reviews", "disapprovals"):
        skill = ReviewerSkill(sensitivity, specificity)
        always = always_approver_probability(
            reviews=reviews,
            disapprovals=disapprovals,
            skill=skill,
            prevalence=config.review_prior_acceptable,
            share=config.always_approver_prior,
        )
        skills[user_id] = ReviewerSkill(sensitivity, specificity, always)
    return skills


def author_priors(user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, float]:
    """The stored prior P(acceptable) of these authors' messages (absent: no record)."""
    return dict(
        ReviewerReliability.objects.filter(
            user_id__in=list(user_ids), author_prior__isnull=False
        ).values_list("user_id", "author_prior")
    )
