"""Creating API clients, the bootstrap client and key lookup."""

from __future__ import annotations

import hashlib
import hmac
import importlib

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command

from backend.accounts.models import ApiClient
from backend.accounts.selectors import api_client_for_key
from backend.accounts.services import InvalidApiKey, bootstrap_api_client, create_api_client

pytestmark = pytest.mark.django_db


def test_created_client_is_found_by_its_key_and_not_by_another():
    issued = create_api_client(name="web")
    assert api_client_for_key(issued.api_key) == issued.client
    assert api_client_for_key(issued.api_key + "x") is None
    assert api_client_for_key("") is None


def test_bootstrap_creates_one_trusted_client_with_the_chosen_key():
    issued = bootstrap_api_client(api_key="chosen-key-for-scripts-0123456789abcdef")
    assert issued is not None and issued.client.trusted
    assert api_client_for_key("chosen-key-for-scripts-0123456789abcdef") == issued.client
    assert bootstrap_api_client(api_key="another-key-for-scripts-0123456789abcd") is None
    assert ApiClient.objects.count() == 1


def test_short_or_reused_key_is_refused():
    with pytest.raises(InvalidApiKey):
        create_api_client(name="web", api_key="short")
    with pytest.raises(InvalidApiKey):
        create_api_client(name="web", api_key="k" * 31)
    create_api_client(name="web", api_key="a-long-enough-key-0123456789abcdefgh")
    with pytest.raises(InvalidApiKey):
        create_api_client(name="bot", api_key="a-long-enough-key-0123456789abcdefgh")


def test_bootstrap_command_prints_the_key_once(capsys):
    call_command("bootstrap_api_client")
    first = capsys.readouterr().out
    key = first.rsplit(": ", 1)[1].strip()
    assert api_client_for_key(key) is not None
    call_command("bootstrap_api_client")
    assert key not in capsys.readouterr().out


def test_a_found_client_is_kept_so_the_next_lookup_asks_no_query(django_assert_num_queries):
    issued = create_api_client(name="web")
    api_client_for_key(issued.api_key)
    with django_assert_num_queries(0):
        assert api_client_for_key(issued.api_key) == issued.client


def test_with_the_client_cache_off_every_lookup_asks_the_database(
    settings, django_assert_num_queries
):
    settings.GROVE_API_CLIENT_CACHE_SECONDS = 0
    issued = create_api_client(name="web")
    api_client_for_key(issued.api_key)
    with django_assert_num_queries(1):
        assert api_client_for_key(issued.api_key) == issued.client


def test_a_client_disabled_in_this_process_is_refused_at_once(client):
    issued = create_api_client(name="web")
    assert client.get("/api/v1/auth/check", HTTP_X_API_KEY=issued.api_key).status_code == 200
    issued.client.enabled = False
    issued.client.save()
    response = client.get("/api/v1/auth/check", HTTP_X_API_KEY=issued.api_key)
    assert response.status_code == 403
    assert response.json()["error_code"] == 2


def test_a_bootstrap_key_under_32_characters_is_refused_with_a_clear_error(settings):
    settings.GROVE_BOOTSTRAP_API_KEY = "only-twenty-four-chars!!"
    with pytest.raises(CommandError, match="at least 32 characters"):
        call_command("bootstrap_api_client")
    assert not ApiClient.objects.exists()


def test_the_stored_digest_is_keyed_by_the_server_secret_and_no_key_character_is_kept(settings):
    settings.GROVE_KEY_HASH_SECRET = "server-secret-one"
    issued = create_api_client(name="web")
    row = ApiClient.objects.values().get(id=issued.client.id)
    plain = hashlib.sha256(issued.api_key.encode()).hexdigest()
    assert (
        row["api_key_digest"]
        == hmac.new(b"server-secret-one", plain.encode(), "sha256").hexdigest()
    )
    stored = "".join(str(value) for name, value in row.items() if name != "api_key_digest")
    assert issued.api_key[:6] not in stored


def test_keys_stored_before_the_keyed_digest_keep_working_after_the_migration(settings):
    settings.GROVE_KEY_HASH_SECRET = "server-secret-two"
    key = "a-key-issued-before-the-migration-0123456789"
    client = ApiClient.objects.create(
        name="old", api_key_digest=hashlib.sha256(key.encode()).hexdigest(), key_id=""
    )
    migration = importlib.import_module("backend.accounts.migrations.0002_keyed_api_key_digest")
    migration.rehash_digests(django_apps, None)
    assert api_client_for_key(key) == client
    assert ApiClient.objects.get(id=client.id).key_id != ""
