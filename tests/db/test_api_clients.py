"""Creating API clients, the bootstrap client and key lookup."""

from __future__ import annotations

import pytest
from django.core.management import call_command

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
    issued = bootstrap_api_client(api_key="chosen-key-for-scripts-0001")
    assert issued is not None and issued.client.trusted
    assert api_client_for_key("chosen-key-for-scripts-0001") == issued.client
    assert bootstrap_api_client(api_key="another-key-for-scripts-002") is None
    assert ApiClient.objects.count() == 1


def test_short_or_reused_key_is_refused():
    with pytest.raises(InvalidApiKey):
        create_api_client(name="web", api_key="short")
    create_api_client(name="web", api_key="a-long-enough-key-0001")
    with pytest.raises(InvalidApiKey):
        create_api_client(name="bot", api_key="a-long-enough-key-0001")


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
