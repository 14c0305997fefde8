"""Worker signal handlers: a job that fails for good is journaled as ``job_failed``."""

from __future__ import annotations

import logging

from celery.signals import task_failure

logger = logging.getLogger("grove.workers")


@task_failure.connect
def journal_job_failure(
    sender=None, task_id=None, exception=None, args=None, kwargs=None, **_extra
) -> None:
    """Runs after the job's last attempt (a retry raises ``Retry``, not a failure)."""
    from backend.trees.services.maintenance import record_job_failure

    job = getattr(sender, "name", str(sender))
    logger.error("event=job_failed job=%s job_id=%s error=%r", job, task_id, exception)
    try:
        record_job_failure(
            job=job, job_id=str(task_id), args=args, kwargs=kwargs, exception=exception
        )
    except Exception:  # the database may be what failed; never mask the job's own error
        logger.exception("event=job_failure_not_recorded job=%s job_id=%s", job, task_id)
