"""Celery jobs: thin — they take ids, call one service, and are safe to run twice."""

from __future__ import annotations

import uuid

from celery import shared_task

from backend.trees.errors import TreeNotFound
from backend.trees.services.trees import advance_tree


@shared_task(
    name="grove.tree.advance",
    acks_late=True,
    autoretry_for=(Exception,),
    dont_autoretry_for=(TreeNotFound,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
)
def advance_tree_job(tree_id: str) -> list[str]:
    """Re-evaluate one tree after an interaction (idempotent: a second run changes nothing)."""
    return advance_tree(tree_id=uuid.UUID(tree_id))
