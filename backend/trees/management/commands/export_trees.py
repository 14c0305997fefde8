from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from backend.trees.export import (
    SYNTHETIC_CHOICES,
    ExportFilter,
    export_to_path,
    export_trees,
    parse_export_date,
)
from backend.trees.models import TREE_STATE_CHOICES

STATES = [value for value, _ in TREE_STATE_CHOICES]


class Command(BaseCommand):
    help = (
        "Export message trees in Open-Assistant's format (one JSON tree per line) to stdout or "
        "--output FILE (.gz compresses). Default: trees in ready_for_export, without deleted "
        "messages."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--state",
            action="append",
            choices=[*STATES, "all"],
            help="tree state to export (repeatable); 'all' for every state",
        )
        parser.add_argument("--lang", help="language code of the trees")
        parser.add_argument("--from", dest="created_from", help="created at or after (ISO)")
        parser.add_argument("--to", dest="created_to", help="created before (ISO)")
        parser.add_argument("--include-deleted", action="store_true")
        parser.add_argument("--synthetic", choices=SYNTHETIC_CHOICES, default="include")
        parser.add_argument(
            "--anonymize",
            action="store_true",
            help="replace user ids by HMAC pseudonyms (key: GROVE_EXPORT_USER_SALT)",
        )
        parser.add_argument(
            "--include-events",
            action="store_true",
            help="add each message's OA events: emoji reactions, rankings, ratings",
        )
        parser.add_argument("--output", help="file to write; '-' or absent: stdout")

    def handle(self, *args, **options):
        states = options["state"] or ["ready_for_export"]
        try:
            filters = ExportFilter(
                states=() if "all" in states else tuple(states),
                lang=options["lang"],
                created_from=_date(options["created_from"]),
                created_to=_date(options["created_to"]),
                include_deleted=options["include_deleted"],
                synthetic=options["synthetic"],
                anonymize=options["anonymize"],
                include_events=options["include_events"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        output = options["output"]
        if output and output != "-":
            count = export_to_path(path=Path(output), filters=filters)
            self.stderr.write(f"exported {count} tree(s) to {output}")
        else:
            count = export_trees(out=self.stdout, filters=filters)
            self.stderr.write(f"exported {count} tree(s)")


def _date(value):
    if not value:
        return None
    try:
        return parse_export_date(value)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not an ISO 8601 date") from exc
