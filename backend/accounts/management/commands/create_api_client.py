from django.core.management.base import BaseCommand, CommandError

from backend.accounts.services import InvalidApiKey, create_api_client


class Command(BaseCommand):
    help = "Create an API client for a frontend or bot and print its key once."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--trusted", action="store_true")
        parser.add_argument("--frontend-type", default="")
        parser.add_argument("--admin-email", default="")

    def handle(self, *args, name, trusted, frontend_type, admin_email, **options):
        try:
            issued = create_api_client(
                name=name, trusted=trusted, frontend_type=frontend_type, admin_email=admin_email
            )
        except InvalidApiKey as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"client {issued.client.id} (key {issued.client.key_id})\n"
            f"api key (shown once): {issued.api_key}"
        )
