"""``manage.py update_troll_stats [--time-frame day|week|month|total]``: rebuild troll boards."""

from django.core.management.base import BaseCommand

from backend.stats.models import TimeFrame
from backend.stats.services import recompute_troll_stats


class Command(BaseCommand):
    help = "Recompute troll stats (troll scores and ranks) for one or every time frame."

    def add_arguments(self, parser):
        parser.add_argument("--time-frame", choices=TimeFrame.values, default=None)

    def handle(self, *args, time_frame=None, **options):
        for frame in [time_frame] if time_frame else TimeFrame.values:
            rows = recompute_troll_stats(frame)
            self.stdout.write(f"troll stats {frame}: {rows} users")
