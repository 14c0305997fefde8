"""``manage.py volunteer``: the SDK's terminal client (``grove-volunteer``), from Grove's tree.

    manage.py volunteer --url http://127.0.0.1:8080 --api-key KEY --user ada
    manage.py volunteer --api-key KEY --simulate --tasks 50

Every argument goes to ``grove_sdk.volunteer`` as it is (``manage.py volunteer --help`` lists
them): the client talks to a Grove over HTTP and its socket like any frontend, and touches
neither the database nor Django's settings. The SDK never imports Django; this command imports
the SDK, from ``sdk/`` beside this tree when it is not installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand

SDK_DIR = Path(__file__).resolve().parents[3] / "sdk"


def volunteer_main():
    try:
        from grove_sdk.volunteer import main
    except ImportError:
        sys.path.insert(0, str(SDK_DIR))
        from grove_sdk.volunteer import main
    return main


class Command(BaseCommand):
    help = "Do Grove's tasks from a terminal, by hand or --simulate (the SDK's grove-volunteer)."

    def run_from_argv(self, argv: list[str]) -> None:
        # The SDK's own parser reads the arguments: Django's would refuse them.
        code = volunteer_main()(argv[2:], prog=f"{Path(argv[0]).name} volunteer")
        if code:
            sys.exit(code)

    def add_arguments(self, parser) -> None:
        parser.add_argument("arguments", nargs="*", help="grove-volunteer's arguments")

    def handle(self, *args, **options) -> None:
        # call_command("volunteer", "--", "--simulate", ...): the same client.
        code = volunteer_main()(options["arguments"], prog="volunteer")
        if code:
            sys.exit(code)
