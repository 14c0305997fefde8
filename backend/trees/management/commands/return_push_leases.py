from django.core.management.base import BaseCommand

from backend.push.leases import sweep


class Command(BaseCommand):
    help = "Return pushed tasks not acknowledged in time and the tasks of push sessions whose "
    help += "socket is gone; celery beat runs it as grove.tree.return_push_leases."

    def handle(self, *args, **options):
        report = sweep()
        self.stdout.write(
            f"returned {report.not_acknowledged} unacknowledged task(s); "
            f"ended {report.sessions_ended} session(s), returning {report.socket_gone} task(s)"
        )
