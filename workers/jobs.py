"""Celery jobs: thin — they take ids, call one service, and are safe to run twice."""
