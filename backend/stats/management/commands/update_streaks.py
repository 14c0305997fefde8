"""``manage.py update_streaks``: refresh last activity, reset idle streaks, extend active ones."""

from django.core.management.base import BaseCommand

from backend.stats.services import update_streaks


class Command(BaseCommand):
    help = "Update users' activity streaks (OA's daily streak job)."

    def handle(self, *args, **options):
        result = update_streaks()
        self.stdout.write(", ".join(f"{k}={v}" for k, v in result.items()))
