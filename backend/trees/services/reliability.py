"""Estimating every reviewer's skill from all task reviews (a worker job, never a request).

``estimate_reviewer_reliability`` runs ``core.reliability.dawid_skene`` over the most recent
task reviews and stores each reviewer's sensitivity and specificity (``ReviewerReliability``,
read-only in the admin); the sequential review policy weights verdicts by them
(``reviewer_skills``). Run by beat as ``grove.tree.reviewer_reliability`` and by hand as
``manage.py estimate_reviewer_reliability``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from backend.trees import journal
from backend.trees.core.reliability import ReviewerSkill, Verdict, dawid_skene, is_acceptable_vote
from backend.trees.growth_config import active_config
from backend.trees.models import ReviewerReliability, TextLabels

# The estimate reads at most this many of the newest task reviews (a reviewer's skill is
# what they do now; the EM is linear in reviews).
MAX_REVIEWS_READ = 200_000


@dataclass(frozen=True)
class ReliabilityReport:
    reviewers: int
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
    estimate = dawid_skene(
        verdicts,
        prior=ReviewerSkill(config.reviewer_prior_sensitivity, config.reviewer_prior_specificity),
        prior_prevalence=config.review_prior_acceptable,
    )
    now = now or timezone.now()
    ReviewerReliability.objects.bulk_create(
        [
            ReviewerReliability(
                user_id=user_id,
                sensitivity=skill.sensitivity,
                specificity=skill.specificity,
                reviews=estimate.reviews[user_id],
                updated_at=now,
            )
            for user_id, skill in sorted(estimate.skills.items(), key=lambda kv: str(kv[0]))
        ],
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=["sensitivity", "specificity", "reviews", "updated_at"],
    )
    report = ReliabilityReport(
        reviewers=len(estimate.skills),
        verdicts=len(verdicts),
        prevalence=estimate.prevalence,
        iterations=estimate.iterations,
    )
    journal.record("reviewer_reliability_estimated", payload=report.__dict__)
    return report


def reviewer_skills(user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ReviewerSkill]:
    """The stored skills of these reviewers (those never estimated are absent)."""
    return {
        user_id: ReviewerSkill(sensitivity, specificity)
        for user_id, sensitivity, specificity in ReviewerReliability.objects.filter(
            user_id__in=list(user_ids)
        ).values_list("user_id", "sensitivity", "specificity")
    }
