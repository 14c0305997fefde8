from django.conf import settings
from django.core.management.base import BaseCommand

from backend.trees.services.maintenance import recent_job_failures


class Command(BaseCommand):
    help = "Show the Celery queues' depths (Redis broker) and the newest failed jobs."

    def add_arguments(self, parser):
        parser.add_argument("--failures", type=int, default=10, help="failed jobs to show")

    def handle(self, *args, **options):
        from workers.monitoring import queue_depths

        if settings.CELERY_TASK_ALWAYS_EAGER or not settings.CELERY_BROKER_URL:
            self.stdout.write("jobs run eagerly in the calling process: no queues")
        else:
            try:
                depths = queue_depths()
            except Exception as exc:  # an unreachable broker is a status, not a crash
                self.stdout.write(self.style.ERROR(f"broker unavailable: {exc}"))
            else:
                self.stdout.write("queue     waiting")
                for queue, count in depths.waiting.items():
                    self.stdout.write(f"{queue:<9} {count}")
                self.stdout.write(f"unacked   {depths.unacked} (delivered, not yet acknowledged)")
        failures = recent_job_failures(limit=options["failures"])
        self.stdout.write(f"\nlast {len(failures)} failed job(s):")
        for failure in failures:
            self.stdout.write(
                f"{failure['created_at']:%Y-%m-%d %H:%M:%S} {failure.get('job')} "
                f"args={failure.get('args')} kwargs={failure.get('kwargs')} "
                f"{failure.get('exception')}"
            )
