"""``manage.py take_console_snapshot``: what beat's ``grove.stats.console_snapshot`` does."""

from django.core.management.base import BaseCommand

from backend.console.services import take_snapshot


class Command(BaseCommand):
    help = "Record one snapshot of trees, ready work and task rates for the console's charts."

    def handle(self, *args, **options) -> None:
        snapshot = take_snapshot()
        self.stdout.write(f"snapshot {snapshot.pk} at {snapshot.taken_at.isoformat()}")
