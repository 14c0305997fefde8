"""Grove's Celery app: ``celery -A workers worker -Q tree,stats,export``."""

from workers.celery import app

__all__ = ["app"]
