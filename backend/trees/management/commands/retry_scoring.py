from django.core.management.base import BaseCommand

from backend.trees.services.maintenance import retry_failed_scoring


class Command(BaseCommand):
    help = "Score again every tree in scoring_failed; celery beat runs it as "
    help += "grove.tree.retry_scoring."

    def handle(self, *args, **options):
        report = retry_failed_scoring(actor="manage.py retry_scoring")
        self.stdout.write(
            f"scored {len(report.retried)} tree(s); "
            f"{len(report.failed_again)} failed again: "
            + (", ".join(str(i) for i in report.failed_again) or "-")
        )
