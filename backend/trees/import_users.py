"""The users an import writes rows for: the import API client, the users named in the file
(created when unknown to this database, ``auth_method`` "system"), and the one user owning
the label rows rebuilt from label means."""

from __future__ import annotations

import uuid

from django.db import transaction

from backend.accounts.models import ApiClient, User

IMPORT_CLIENT_NAME = "grove-import"
LABELS_USERNAME = "imported-labels"


@transaction.atomic
def import_client() -> ApiClient:
    from backend.accounts.services import create_api_client

    client = ApiClient.objects.filter(name=IMPORT_CLIENT_NAME).order_by("created_at").first()
    if client is None:
        client = create_api_client(name=IMPORT_CLIENT_NAME).client
        ApiClient.objects.filter(id=client.id).update(enabled=False)  # owns rows, never calls
    return client


def resolve_users(ids: set[uuid.UUID | None], client: ApiClient) -> dict[uuid.UUID | None, User]:
    found = {u.id: u for u in User.objects.filter(id__in=[i for i in ids if i is not None])}
    for user_id in ids:
        if user_id in found:
            continue
        name = f"imported-{user_id}" if user_id else "imported-unknown"
        user, _ = User.objects.get_or_create(
            **({"id": user_id} if user_id else {"api_client": client, "username": name}),
            defaults={
                "api_client": client,
                "auth_method": "system",
                "username": name,
                "display_name": name,
            },
        )
        found[user_id] = user
    return found


def labels_user(client: ApiClient) -> User:
    user, _ = User.objects.get_or_create(
        api_client=client,
        auth_method="system",
        username=LABELS_USERNAME,
        defaults={"display_name": LABELS_USERNAME},
    )
    return user
