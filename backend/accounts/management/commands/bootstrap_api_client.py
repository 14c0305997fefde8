from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from backend.accounts.services import InvalidApiKey, bootstrap_api_client


class Command(BaseCommand):
    help = (
        "Create the first trusted API client if none exists and print its key once. "
        "GROVE_BOOTSTRAP_API_KEY, when set, is the key it gets."
    )

    def handle(self, *args, **options):
        try:
            issued = bootstrap_api_client(api_key=settings.GROVE_BOOTSTRAP_API_KEY or None)
        except InvalidApiKey as exc:
            raise CommandError(f"GROVE_BOOTSTRAP_API_KEY: {exc}") from exc
        if issued is None:
            self.stdout.write("API clients exist already; no key printed.")
            return
        if settings.GROVE_BOOTSTRAP_API_KEY:
            self.stdout.write(
                f"Created trusted API client {issued.client.id} (key {issued.client.key_id}) "
                "with GROVE_BOOTSTRAP_API_KEY."
            )
            return
        self.stdout.write(
            self.style.WARNING(
                f"Created trusted API client {issued.client.id}.\n"
                f"Its API key (shown once, send it as X-API-Key): {issued.api_key}"
            )
        )
