"""Throttling: the API client's and the acting user's fixed-window budgets (real Redis)."""

from __future__ import annotations

import pytest
from django.conf import settings
from redis import Redis

from frontend_api.v1 import throttling
from frontend_api.v1.throttling import Budget, LocalCounters, ProtocolRateThrottle

WINDOW_START = 1_800_000_000.0  # a multiple of 60: a minute window starts here


@pytest.fixture
def rates(monkeypatch):
    def set_rates(*, client: str = "1000/minute", user: str = "1000/minute") -> None:
        monkeypatch.setattr(
            ProtocolRateThrottle, "THROTTLE_RATES", {"api_client": client, "user": user}
        )

    return set_rates


@pytest.fixture
def clock(monkeypatch):
    now = [WINDOW_START + 10]
    monkeypatch.setattr(ProtocolRateThrottle, "timer", staticmethod(lambda: now[0]))
    return now


def test_client_budget_refuses_every_user_once_spent(frontend, rates, clock):
    rates(client="3/minute")
    statuses = [frontend.get("messages/", user=f"local:user-{i}").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_user_budget_refuses_only_that_user(frontend, rates, clock):
    rates(user="2/minute")
    statuses = [frontend.get("messages/", user="local:alice").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert frontend.get("messages/", user="local:bob").status_code == 200


def test_refusal_is_429_in_protocol_shape_with_the_window_end_as_retry_after(
    frontend, rates, clock
):
    rates(user="1/minute")
    assert frontend.get("messages/", user="local:alice").status_code == 200
    refused = frontend.get("messages/", user="local:alice")
    assert refused.status_code == 429
    assert refused.json()["error_code"] == 429
    # The window started 10 s before; the error handler rounds the wait up to whole seconds.
    assert 50 <= int(refused["Retry-After"]) <= 51


def test_budget_comes_back_when_the_window_ends(frontend, rates, clock):
    rates(user="1/minute")
    assert frontend.get("messages/", user="local:alice").status_code == 200
    clock[0] = WINDOW_START + 59
    assert frontend.get("messages/", user="local:alice").status_code == 429
    clock[0] = WINDOW_START + 60
    assert frontend.get("messages/", user="local:alice").status_code == 200


def test_both_counters_live_in_redis_and_expire_after_their_window(frontend, rates, clock):
    rates(client="100/minute", user="5/hour")
    frontend.get("messages/", user="local:alice")
    frontend.get("messages/", user="local:alice")
    redis = Redis.from_url(settings.CACHE_URL)
    client_keys = redis.keys(f"grove:throttle:api_client:{frontend.client_row.id}:*")
    user_keys = redis.keys(f"grove:throttle:user:{frontend.client_row.id}:*")
    assert len(client_keys) == len(user_keys) == 1
    assert int(redis.get(client_keys[0])) == int(redis.get(user_keys[0])) == 2
    assert 0 < redis.ttl(client_keys[0]) <= 61
    assert 3600 < redis.ttl(user_keys[0]) <= 3601


def test_request_without_user_spends_only_the_client_budget(frontend, rates, clock):
    rates(client="2/minute", user="1/minute")
    statuses = [frontend.get("auth/check").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_local_counters_count_per_window_and_start_over_in_the_next():
    counters = LocalCounters()
    budgets = [Budget("a", 2, 60), Budget("b", 5, 3600)]
    assert counters.hit(budgets, WINDOW_START) == [1, 1]
    assert counters.hit(budgets, WINDOW_START + 59) == [2, 2]
    assert counters.hit(budgets, WINDOW_START + 60) == [1, 3]


@pytest.mark.parametrize(
    ("rate", "parsed"), [("120/minute", (120, 60)), ("5/s", (5, 1)), ("7/day", (7, 86400))]
)
def test_rates_are_drf_rate_strings(rate, parsed):
    assert throttling.parse_rate(rate) == parsed


def test_a_body_user_is_counted_whatever_x_oasst_user_says(frontend, rates, clock):
    rates(user="2/minute")
    ada = {"id": "ada", "display_name": "Ada", "auth_method": "local"}
    statuses = [
        frontend.post("tasks/availability", ada, user=f"local:decoy-{i}").status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_a_body_user_with_padding_is_the_same_user(frontend, rates, clock):
    rates(user="2/minute")
    names = ["ada", " ada", "ada "]
    statuses = [
        frontend.post(
            "tasks/availability", {"id": name, "display_name": "Ada", "auth_method": "local"}
        ).status_code
        for name in names
    ]
    assert statuses == [200, 200, 429]


def test_a_header_view_counts_the_header_user_whatever_the_body_adds(frontend, rates, clock):
    rates(user="2/minute")
    frontend.post("frontend_users/", {"id": "ada", "display_name": "A", "auth_method": "local"})
    statuses = []
    for i in range(3):
        body = {"message_id": f"m{i}", "user": {"id": f"decoy-{i}", "auth_method": "local"}}
        missing = "00000000-0000-0000-0000-000000000000"
        statuses.append(frontend.post(f"tasks/{missing}/ack", body, user="local:ada").status_code)
    assert statuses[-1] == 429


def test_every_view_that_acts_for_a_body_user_tells_the_throttle_where_it_is():
    import inspect

    from django.urls import get_resolver

    def views(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from views(pattern.url_patterns)
            elif hasattr(pattern.callback, "view_class"):
                yield pattern.callback.view_class

    for view in set(views(get_resolver().url_patterns)):
        source = inspect.getsource(view)
        if "acting_user(" in source or "register_frontend_user(" in source:
            assert getattr(view, "acting_user_field", None) is not None, view
