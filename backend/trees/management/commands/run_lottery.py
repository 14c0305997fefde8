from django.core.management.base import BaseCommand

from backend.trees.services.maintenance import run_lotteries


class Command(BaseCommand):
    help = "Run the prompt lottery in every language with waiting prompts; celery beat runs "
    help += "it as grove.tree.run_lottery."

    def handle(self, *args, **options):
        activated = run_lotteries()
        if not activated:
            self.stdout.write("no language has waiting prompts")
        for lang, count in activated.items():
            self.stdout.write(f"{lang}: activated {count} tree(s)")
