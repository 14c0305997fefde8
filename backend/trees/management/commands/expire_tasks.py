from django.core.management.base import BaseCommand

from backend.trees.services.maintenance import expire_tasks


class Command(BaseCommand):
    help = "Close open tasks past their expiry date (skipped, reason 'expired'); celery beat "
    help += "runs it as grove.tree.expire_tasks."

    def handle(self, *args, **options):
        count = expire_tasks()
        self.stdout.write(f"expired {count} task(s)")
