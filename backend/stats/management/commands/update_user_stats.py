"""``manage.py update_user_stats [--time-frame day|week|month|total]``: rebuild leaderboards."""

from django.core.management.base import BaseCommand

from backend.stats.models import TimeFrame
from backend.stats.services import recompute_user_stats


class Command(BaseCommand):
    help = "Recompute user stats (leader scores and ranks) for one or every time frame."

    def add_arguments(self, parser):
        parser.add_argument("--time-frame", choices=TimeFrame.values, default=None)

    def handle(self, *args, time_frame=None, **options):
        for frame in [time_frame] if time_frame else TimeFrame.values:
            rows = recompute_user_stats(frame)
            self.stdout.write(f"user stats {frame}: {rows} users")
