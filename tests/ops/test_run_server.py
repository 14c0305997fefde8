"""The embedded profile of ./scripts/run, for real: migrate a fresh SQLite file, bootstrap the
first API client, then one uvicorn process serving /health over HTTP and ws/health/ over a
websocket, with no PostgreSQL, Redis or broker in the environment."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from websockets.sync.client import connect

from backend.settings import INSECURE_DEV_SECRET_KEY
from tests.ops.embedded import ROOT, embedded_environment, run_manage

BOOTSTRAP_API_KEY = "ops-test-bootstrap-key-0123456789"
STARTUP_TIMEOUT_SECONDS = 15.0
# The flags scripts/run passes to uvicorn.
UVICORN_FLAGS = (
    *("--workers", "1", "--ws", "websockets-sansio", "--lifespan", "off"),
    *("--ws-max-size", "65536"),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_health(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"uvicorn exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:  # refused while starting; HTTPError (503) is an OSError too
            time.sleep(0.1)
    pytest.fail(f"uvicorn did not answer {url} in {STARTUP_TIMEOUT_SECONDS}s:\n{log.read_text()}")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=5)


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("grove-var")


@pytest.fixture(scope="module")
def embedded_server(var_dir: Path) -> Iterator[str]:
    """Base URL of a server started with the steps and uvicorn flags of scripts/run."""
    env = embedded_environment(var_dir, GROVE_BOOTSTRAP_API_KEY=BOOTSTRAP_API_KEY)
    for step in (("migrate", "--noinput"), ("bootstrap_api_client",)):
        result = run_manage(env, *step)
        assert result.returncode == 0, result.stdout + result.stderr
    port = free_port()
    log = var_dir / "uvicorn.log"
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "backend.asgi:application"),
                *("--host", "127.0.0.1", "--port", str(port), *UVICORN_FLAGS),
            ],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches every child
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_for_health(f"{base_url}/health", server, log)
        yield base_url
    finally:
        stop(server)


def test_bootstrap_gives_the_first_client_the_configured_key(embedded_server, var_dir):
    with sqlite3.connect(var_dir / "grove.sqlite3") as db:
        rows = db.execute("SELECT api_key_digest, trusted FROM accounts_apiclient").fetchall()
    # The embedded profile's key-hash secret is its public development SECRET_KEY.
    plain = hashlib.sha256(BOOTSTRAP_API_KEY.encode()).hexdigest()
    keyed = hmac.new(INSECURE_DEV_SECRET_KEY.encode(), plain.encode(), "sha256").hexdigest()
    assert rows == [(keyed, 1)]


def test_health_reports_the_embedded_profile(embedded_server):
    with urllib.request.urlopen(f"{embedded_server}/health", timeout=5) as response:
        assert response.status == 200
        checks = json.load(response)["checks"]
    assert checks["database"] == {"ok": True, "vendor": "sqlite"}
    assert checks["broker"] == {"ok": True, "mode": "eager"}
    assert checks["channel_layer"] == {"ok": True, "backend": "InMemoryChannelLayer"}


def test_websocket_health_answers_ping_with_pong(embedded_server):
    ws_url = embedded_server.replace("http://", "ws://") + "/ws/health/"
    with connect(ws_url, open_timeout=5) as websocket:
        websocket.send(json.dumps({"type": "ping"}))
        assert json.loads(websocket.recv(timeout=5)) == {"type": "pong"}


# --- concurrent clients on SQLite (client-compat F4) ----------------------------------------

BOTS = 4
ROUNDS_PER_BOT = 25


def call(base_url: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base_url}/api/v1/{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"X-API-Key": BOOTSTRAP_API_KEY, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, {"raw": raw.decode(errors="replace")}


def work_as_a_bot(base_url: str, name: str) -> list[tuple[str, int, dict]]:
    """One bot's volunteer loop (request, ack, answer), one request at a time; the answers."""
    user = {"id": name, "display_name": name, "auth_method": "local"}
    answers = []
    for round_ in range(ROUNDS_PER_BOT):
        status, task = call(base_url, "POST", "tasks/", {"type": "random", "user": user})
        answers.append(("request", status, task))
        if status != 200:
            continue
        fm = f"{name}-{round_}"
        status, body = call(base_url, "POST", f"tasks/{task['id']}/ack", {"message_id": fm})
        answers.append(("ack", status, body))
        interaction = {"user": user, "message_id": fm}
        if task["type"] in ("initial_prompt", "assistant_reply", "prompter_reply"):
            text = f"{name} says {uuid.uuid4()}"
            interaction |= {"type": "text_reply_to_message", "user_message_id": f"u-{fm}"}
            interaction["text"] = text
        elif task["type"].startswith("label_"):
            labels = dict.fromkeys(task["valid_labels"], 0.0) | {"quality": 0.8}
            interaction |= {"type": "text_labels", "task_id": task["id"], "labels": labels}
            interaction |= {"message_id": task["message_id"], "text": ""}
        elif task["type"].startswith("rank_"):
            count = len(task.get("reply_messages") or task.get("prompt_messages") or [])
            interaction |= {"type": "message_ranking", "ranking": list(range(count))}
        else:
            continue
        answers.append(("answer", *call(base_url, "POST", "tasks/interaction", interaction)))
    return answers


@pytest.mark.slow
def test_four_concurrent_bots_on_sqlite_never_get_a_500(embedded_server, var_dir):
    with ThreadPoolExecutor(max_workers=BOTS) as pool:
        runs = list(pool.map(lambda i: work_as_a_bot(embedded_server, f"bot{i}"), range(BOTS)))
    answers = [answer for run in runs for answer in run]
    failures = [answer for answer in answers if answer[1] >= 500 and answer[1] != 503]
    assert not failures, (len(failures), len(answers), failures[:3])
    assert sum(1 for step, status, _ in answers if step == "answer" and status == 200) > BOTS
    assert "database is locked" not in (var_dir / "uvicorn.log").read_text()


# --- credentials in URLs (reliability finding 6) ---------------------------------------------


def test_rest_refuses_a_key_in_the_url_and_no_log_line_holds_it(embedded_server, var_dir):
    url = f"{embedded_server}/api/v1/auth/check?api_key={BOOTSTRAP_API_KEY}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=5)
    assert refused.value.code == 403
    ticket_request = urllib.request.Request(
        f"{embedded_server}/api/v1/ws_tickets/",
        method="POST",
        headers={"X-API-Key": BOOTSTRAP_API_KEY},
    )
    with urllib.request.urlopen(ticket_request, timeout=5) as response:
        ticket = json.loads(response.read())["ticket"]
    ws_url = embedded_server.replace("http://", "ws://")
    with connect(f"{ws_url}/ws/tasks/?ticket={ticket}", open_timeout=5) as websocket:
        websocket.send(json.dumps({"type": "ping"}))
        assert json.loads(websocket.recv(timeout=5)) == {"type": "pong"}
    with connect(f"{ws_url}/ws/tasks/?api_key={BOOTSTRAP_API_KEY}", open_timeout=5) as websocket:
        assert json.loads(websocket.recv(timeout=5))["error_code"] == 2  # then close 4401
    log = (var_dir / "uvicorn.log").read_text()
    assert "/api/v1/auth/check?api_key=[redacted]" in log
    assert "/ws/tasks/?ticket=[redacted]" in log
    assert "/ws/tasks/?api_key=[redacted]" in log
    assert BOOTSTRAP_API_KEY not in log and ticket not in log
