"""``manage.py update_cached_stats``: recompute OA's cached system statistics."""

from django.core.management.base import BaseCommand

from backend.stats.services import update_cached_stats


class Command(BaseCommand):
    help = "Recompute every cached statistics document (OA CachedStatsName)."

    def handle(self, *args, **options):
        names = update_cached_stats()
        self.stdout.write(f"cached stats updated: {', '.join(names)}")
