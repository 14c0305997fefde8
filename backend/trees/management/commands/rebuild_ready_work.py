from django.core.management.base import BaseCommand
from django.db import transaction

from backend.trees import ready_work
from backend.trees.growth_config import active_config


class Command(BaseCommand):
    help = "Recompute the ready-work index (what can be handed out) from the trees."

    def handle(self, *args, **options):
        with transaction.atomic():
            rows = ready_work.rebuild(active_config())
        self.stdout.write(f"ready work rebuilt: {rows} row(s)")
