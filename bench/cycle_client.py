"""One volunteer doing one full task cycle over HTTP: request, ack, interaction.

Each ``Volunteer`` keeps one HTTP/1.1 connection alive (``http.client``), as a frontend's
connection pool would, and answers each task the way OA's protocol expects for its type:
a text for reply tasks, the task's labels for label tasks, a shuffled order of the offered
replies for ranking tasks. Every call is timed and keeps the server's ``X-Grove-Queries``
count when the server sends it.
"""

from __future__ import annotations

import http.client
import itertools
import json
import random
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench.texts import TextDeck

QUERY_HEADER = "X-Grove-Queries"
# The same OA sample bench/volunteers.py uses; read here too because the driver measures
# from outside and must not import Django (bench/volunteers.py does).

REPLY_KINDS = {"initial_prompt", "assistant_reply", "prompter_reply"}
NO_TASK_CODE = 1006  # OA TASK_REQUESTED_TYPE_NOT_AVAILABLE, sent with 503
_frontend_ids = itertools.count()


@dataclass
class Call:
    """One HTTP call of a cycle: which, when, how long, and what came back."""

    name: str  # task_request | ack | interaction
    started: float
    ms: float
    status: int
    error_code: int | None
    queries: int | None


@dataclass
class Cycle:
    """A cycle's calls and the task type it got (None: no task or an error)."""

    scheduled: float
    calls: list[Call] = field(default_factory=list)
    task_type: str | None = None
    no_task: bool = False
    completed: bool = False

    @property
    def ms_from_schedule(self) -> float:
        last = self.calls[-1]
        return (last.started + last.ms / 1000 - self.scheduled) * 1000


class Volunteer:
    """A distinct protocol user with its own kept-alive connection."""

    def __init__(self, url: str, api_key: str, name: str, texts: dict[str, list[str]], seed: int):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.api_key = api_key
        self.user = {"id": name, "display_name": name, "auth_method": "local"}
        self.texts = texts
        self.rng = random.Random(seed)
        self.deck = TextDeck(texts, self.rng)
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def post(self, name: str, path: str, body: dict) -> tuple[Call, dict]:
        payload = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "X-API-Key": self.api_key}
        started = time.monotonic()
        try:
            self.connection.request("POST", path, payload, headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            # Keep-alive connection closed by the server: reconnect once and retry.
            self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            started = time.monotonic()
            self.connection.request("POST", path, payload, headers)
            response = self.connection.getresponse()
            raw = response.read()
        ms = (time.monotonic() - started) * 1000
        data = json.loads(raw) if raw else {}
        queries = response.getheader(QUERY_HEADER)
        code = data.get("error_code") if response.status >= 400 else None
        call = Call(name, started, ms, response.status, code, int(queries) if queries else None)
        return call, data

    def cycle(self, scheduled: float, lang: str = "en") -> Cycle:
        """Request a random task, ack it, answer it; stops at the first failing call."""
        result = Cycle(scheduled=scheduled)
        call, task = self.post(
            "task_request", "/api/v1/tasks/", {"type": "random", "user": self.user, "lang": lang}
        )
        result.calls.append(call)
        if call.status == 503 and call.error_code == NO_TASK_CODE:
            result.no_task = True
            return result
        if call.status != 200:
            return result
        result.task_type = task["type"]
        frontend_id = f"bench-{self.user['id']}-{next(_frontend_ids)}"
        call, _ = self.post("ack", f"/api/v1/tasks/{task['id']}/ack", {"message_id": frontend_id})
        result.calls.append(call)
        if call.status != 204:
            return result
        call, _ = self.post(
            "interaction", "/api/v1/tasks/interaction", self.answer(task, frontend_id)
        )
        result.calls.append(call)
        result.completed = call.status == 200
        return result

    def answer(self, task: dict, frontend_id: str) -> dict:
        """The interaction that completes ``task`` correctly for its type."""
        kind = task["type"]
        if kind in REPLY_KINDS:
            role = "assistant" if kind == "assistant_reply" else "prompter"
            return {
                "type": "text_reply_to_message",
                "user": self.user,
                "message_id": frontend_id,
                "user_message_id": f"{frontend_id}-reply",
                "text": self.deck.next(role),
                "lang": "en",
            }
        if kind.startswith("label_"):
            labels = {name: self.label_value(name) for name in task["valid_labels"]}
            return {
                "type": "text_labels",
                "user": self.user,
                "message_id": task["message_id"],
                "task_id": task["id"],
                "text": "",
                "labels": labels,
            }
        order = list(range(len(task["reply_messages"])))
        self.rng.shuffle(order)
        return {
            "type": "message_ranking",
            "user": self.user,
            "message_id": frontend_id,
            "ranking": order,
        }

    def label_value(self, name: str) -> float:
        """Mostly clean, good-quality reviews, so trees grow instead of being aborted."""
        if name in {"spam", "lang_mismatch", "fails_task", "pii", "not_appropriate"}:
            return 1.0 if self.rng.random() < 0.03 else 0.0
        if name in {"quality", "helpfulness", "creativity"}:
            return round(self.rng.uniform(0.4, 1.0), 2)
        return round(self.rng.uniform(0.0, 0.3), 2)

    def write_prompt(self) -> bool:
        """One initial prompt through the protocol (to seed a starting forest)."""
        call, task = self.post(
            "task_request",
            "/api/v1/tasks/",
            {"type": "initial_prompt", "user": self.user, "lang": "en"},
        )
        if call.status != 200:
            return False
        frontend_id = f"seed-{self.user['id']}-{next(_frontend_ids)}"
        self.post("ack", f"/api/v1/tasks/{task['id']}/ack", {"message_id": frontend_id})
        call, _ = self.post(
            "interaction", "/api/v1/tasks/interaction", self.answer(task, frontend_id)
        )
        return call.status == 200

    def close(self) -> None:
        self.connection.close()
