from django.core.management.base import BaseCommand, CommandError

from backend.trees.importer import TreeImportError, import_trees


class Command(BaseCommand):
    help = (
        "Import message trees from an Open-Assistant export file (JSON lines, .gz allowed). "
        "The file is checked whole first; each tree is one transaction; trees that exist "
        "already are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, **options):
        try:
            report = import_trees(path=options["file"])
        except FileNotFoundError as exc:
            raise CommandError(f"no such file: {options['file']}") from exc
        except TreeImportError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"imported {len(report.imported)} tree(s), skipped {len(report.skipped)} "
            "that exist already"
        )
