from django.core.management.base import BaseCommand

from backend.trees.services.maintenance import advance_due_trees


class Command(BaseCommand):
    help = "Advance the trees owed an advance whose job was not sent or was lost; celery beat "
    help += "runs it as grove.tree.advance_due."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=5.0,
            help="only debts older than this many seconds (default 5)",
        )

    def handle(self, *args, **options):
        advanced = advance_due_trees(older_than_seconds=options["older_than"])
        self.stdout.write(f"advanced: {advanced} tree(s) owed an advance")
