"""ws/console/: a staff user's Django session opens it; overviews and admin events arrive."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from backend.trees.services.trees import halt_tree
from tests.builders import make_tree, make_user
from tests.ws.conftest import TIMEOUT, receive_event, send, ws_db

pytestmark = ws_db


def session_cookie(*, staff: bool) -> list[tuple[bytes, bytes]]:
    user = User.objects.create_user(f"person-{User.objects.count()}", is_staff=staff)
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return [(b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())]


async def test_console_socket_without_a_login_is_refused_with_4401(sockets):
    socket = await sockets.connect("/ws/console/")

    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "error"
    assert (await socket.receive_output(timeout=TIMEOUT))["code"] == 4401


async def test_console_socket_of_a_user_who_is_not_staff_is_refused_with_4403(sockets):
    headers = await sync_to_async(session_cookie)(staff=False)
    socket = await sockets.connect("/ws/console/", headers=headers)

    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "error"
    assert (await socket.receive_output(timeout=TIMEOUT))["code"] == 4403


async def test_console_socket_opened_by_a_foreign_page_is_refused(sockets):
    headers = await sync_to_async(session_cookie)(staff=True)
    headers += [(b"origin", b"https://evil.example"), (b"host", b"127.0.0.1:8080")]
    socket = await sockets.connect("/ws/console/", headers=headers)

    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "error"
    assert (await socket.receive_output(timeout=TIMEOUT))["code"] == 4403


async def test_staff_console_gets_an_overview_then_events_and_a_fresh_overview(sockets):
    headers = await sync_to_async(session_cookie)(staff=True)
    prompt = await sync_to_async(make_tree)(author=await sync_to_async(make_user)())
    socket = await sockets.connect("/ws/console/", headers=headers)

    first = await receive_event(socket, "overview")
    assert first["funnel"] == {"en": {"growing": 1}}
    assert set(first["latency"]) == {"requests", "span_seconds", "p50_ms", "p99_ms", "scope"}
    assert first["latency"]["scope"] == "deployment"  # read from Redis, every web process
    work = {row["lang"]: row for row in first["work"]}
    assert work["en"]["slots"] > 0 and "unserved" in work["en"]
    assert work["en"]["rest_active"] == 0

    await sync_to_async(halt_tree)(tree_id=prompt.message_tree_id, actor="moderator-1")
    event = await receive_event(socket, "event")
    assert (event["event"], event["payload"]["to"]) == ("tree_state_changed", "halted_by_moderator")
    fresh = await receive_event(socket, "overview")
    assert fresh["funnel"] == {"en": {"halted_by_moderator": 1}}
    assert fresh["events"][0]["event"] == "tree_state_changed"
    assert await send(socket, {"type": "ping"}) == {"type": "pong"}
