"""The one Celery app, configured from Django settings (``CELERY_*``)."""

import os

from celery import Celery
from celery.signals import setup_logging
from django.conf import settings
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

app = Celery("grove")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Named queues so operators can run and scale workers per kind of work.
app.conf.task_queues = (Queue("tree"), Queue("stats"), Queue("export"))
# A job's queue follows from its name: grove.<queue>.<verb>.
app.conf.task_routes = {
    "grove.tree.*": {"queue": "tree"},
    "grove.stats.*": {"queue": "stats"},
    "grove.export.*": {"queue": "export"},
}
app.autodiscover_tasks(["workers"], related_name="jobs")


@app.on_after_configure.connect
def _configure_beat(sender: Celery, **_kwargs) -> None:
    from workers.schedule import beat_schedule

    sender.conf.beat_schedule = beat_schedule()


def _keep_django_logging(**_kwargs) -> None:
    """Celery's own log setup would replace settings.LOGGING's JSON lines with its text
    format; a receiver of ``setup_logging`` tells it to leave logging alone (its ``-l`` then
    does nothing: GROVE_LOG_LEVEL sets the level)."""


if settings.LOG_FORMAT == "json":
    setup_logging.connect(_keep_django_logging, weak=False)


import workers.signals  # noqa: E402, F401  (job metrics, request ids, the job_failed journal)
