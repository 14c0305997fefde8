from django.core.management.base import BaseCommand

from backend.trees.services.reliability import estimate_reviewer_reliability


class Command(BaseCommand):
    help = "Re-estimate every reviewer's skill (two-coin Dawid-Skene over the task reviews); "
    help += "celery beat runs it as grove.stats.reviewer_reliability."

    def handle(self, *args, **options):
        report = estimate_reviewer_reliability()
        self.stdout.write(
            f"estimated {report.reviewers} reviewer(s) from {report.verdicts} review(s) "
            f"in {report.iterations} iteration(s); acceptable share {report.prevalence:.3f}"
        )
