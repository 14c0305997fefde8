"""Volunteers that request, ack and answer tasks in a loop over HTTP, for the fault tests.

Each call is tallied (status, OA's error code, how long it took, when); every interaction
is remembered with its answer's status, so a checker can look up in the database what was
answered 2xx (persisted exactly once) and what was not (persisted at most once, and whole).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field

GOOD_LABELS = {"spam": 0.0, "lang_mismatch": 0.0, "quality": 0.8, "fails_task": 0.0}


@dataclass(frozen=True)
class Call:
    """One request: when it started and ended (``time.monotonic``), its status (0: no
    answer at all) and its body's OA ``error_code`` (None for a success or a non-OA body)."""

    path: str
    started: float
    ended: float
    status: int
    error_code: int | None
    oa_shape: bool


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    slowest: float = 0.0
    # (interaction type, key the checker looks up) of every interaction answered 2xx
    answered: list[tuple[str, str]] = field(default_factory=list)
    # the same for every interaction sent and not answered 2xx
    refused: list[tuple[str, str]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Volunteer(threading.Thread):
    def __init__(self, base_url: str, key: str, name: str, tally: Tally, stop_at: list[float]):
        super().__init__(daemon=True)
        self.base_url, self.key, self.tally, self.stop_at = base_url, key, tally, stop_at
        self.user = {"id": name, "display_name": name, "auth_method": "local"}

    def call(self, path: str, body: dict) -> tuple[int, dict | None]:
        request = urllib.request.Request(
            f"{self.base_url}/api/v1/{path}",
            data=json.dumps(body).encode(),
            headers={"X-API-Key": self.key, "Content-Type": "application/json"},
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except (urllib.error.URLError, OSError):  # no answer at all: counted as status 0
            status, raw = 0, b""
        ended = time.monotonic()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        oa_shape = isinstance(body, dict) and {"message", "error_code"} <= set(body)
        error_code = body["error_code"] if oa_shape and isinstance(body, dict) else None
        # OA's "no task available" (503/1006) is the engine's answer when the small forest has
        # no work for this volunteer right now, not a fault: counted apart.
        no_task = status == 503 and error_code == 1006
        with self.tally.lock:
            self.tally.requests += 1
            self.tally.statuses["no_task" if no_task else status] += 1
            self.tally.slowest = max(self.tally.slowest, ended - started)
            self.tally.calls.append(Call(path, started, ended, status, error_code, oa_shape))
        return status, body

    def run(self) -> None:
        while time.monotonic() < self.stop_at[0]:
            self.one_task()

    def one_task(self) -> None:
        status, task = self.call("tasks/", {"type": "random", "user": self.user, "lang": "en"})
        if status != 200 or task is None:
            time.sleep(0.2)  # nothing to do for now
            return
        fm = f"fm-{uuid.uuid4()}"
        status, _ = self.call(f"tasks/{task['id']}/ack", {"message_id": fm})
        if status != 204:
            return
        kind = task["type"]
        if kind.startswith("label_"):
            body = {
                "type": "text_labels",
                "message_id": task["message_id"],
                "task_id": task["id"],
                "text": "",
                "labels": {k: v for k, v in GOOD_LABELS.items() if k in task["valid_labels"]},
            }
            key = ("labels", task["id"])
        elif kind.startswith("rank_"):
            body = {
                "type": "message_ranking",
                "message_id": fm,
                "ranking": list(range(len(task["reply_messages"]))),
            }
            key = ("ranking", task["id"])
        else:
            umid = f"um-{uuid.uuid4()}"
            body = {
                "type": "text_reply_to_message",
                "message_id": fm,
                "user_message_id": umid,
                "text": f"{kind} by {self.user['id']}: {uuid.uuid4()}",
            }
            key = ("text", umid)
        status, _ = self.call("tasks/interaction", {**body, "user": self.user})
        with self.tally.lock:
            (self.tally.answered if 200 <= status < 300 else self.tally.refused).append(key)
