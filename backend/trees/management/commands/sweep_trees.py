from django.core.management.base import BaseCommand

from backend.trees.services.maintenance import sweep_trees


class Command(BaseCommand):
    help = "Advance every tree that could move and rebuild the ready-work index; celery beat "
    help += "runs it as grove.tree.sweep."

    def handle(self, *args, **options):
        moved = sweep_trees()
        self.stdout.write(f"swept: {moved} tree(s) changed state")
