"""REST calls of OA's task protocol against one Grove (``/api/v1/``).

    client = GroveClient("http://127.0.0.1:8080", api_key)
    ada = User("ada", "Ada")
    task = client.fetch_task(ada, TaskType.RANDOM, lang="en")
    client.ack_task(task["id"], message_id="ada-task-1")
    client.reply(ada, message_id="ada-task-1", text="...")

The names follow OA's own client (``oasst_shared.api_client.OasstApiClient``): ``fetch_task``,
``ack_task``, ``nack_task``, ``post_interaction``; ``reply``, ``rank`` and ``label`` build the
three interactions. An error answer raises a ``grove_sdk.errors`` class.

One connection is kept alive per client: use one ``GroveClient`` per thread.
"""

from __future__ import annotations

import http.client
import json
import logging
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from grove_sdk import frames
from grove_sdk.errors import GroveError, error_from
from grove_sdk.types import Task, TaskType, User

logger = logging.getLogger("grove_sdk")
API = "/api/v1"


class GroveClient:
    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0):
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"a Grove URL is http(s)://host[:port], not {url!r}")
        self.url = f"{parts.scheme}://{parts.netloc}{parts.path}"
        self.base_path = parts.path
        self.api_key = api_key
        self.timeout = timeout
        self._secure = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._connection: http.client.HTTPConnection | None = None

    @property
    def ws_url(self) -> str:
        """The push socket's address (``ws/tasks/``)."""
        scheme = "wss" if self._secure else "ws"
        return f"{scheme}://{urlsplit(self.url).netloc}{self.base_path}/ws/tasks/"

    # --- OA's task calls ---

    def fetch_task(
        self,
        user: User | dict,
        task_type: TaskType | str = TaskType.RANDOM,
        *,
        lang: str | None = None,
        collective: bool = False,
    ) -> Task:
        """A new task for ``user`` (``POST /tasks/``); NoTaskAvailable when there is none."""
        body = {"type": str(task_type), "user": User.of(user).wire(), "collective": collective}
        if lang is not None:
            body["lang"] = lang
        return self.post("/tasks/", body)

    def ack_task(self, task_id: str, message_id: str, *, user: User | dict | None = None) -> None:
        """The frontend shows the task as ``message_id`` (its own id, unique per client)."""
        self.post(f"/tasks/{quote(task_id)}/ack", {"message_id": message_id}, user=user)

    def nack_task(self, task_id: str, reason: str | None = None, *, user=None) -> None:
        """The user skips the task."""
        self.post(f"/tasks/{quote(task_id)}/nack", {"reason": reason}, user=user)

    def post_interaction(self, interaction: dict[str, Any]) -> dict:
        """An OA interaction (``text_reply_to_message``, ``message_ranking``, ``text_labels``);
        Grove's ``{"type": "task_done", "id": ...}``."""
        return self.post("/tasks/interaction", interaction)

    def reply(
        self,
        user: User | dict,
        *,
        message_id: str,
        text: str,
        user_message_id: str | None = None,
        lang: str | None = None,
    ) -> dict:
        """The text answering the reply task acked as ``message_id``."""
        return self.post_interaction(
            frames.text_reply(
                user, message_id=message_id, text=text, user_message_id=user_message_id, lang=lang
            )
        )

    def rank(
        self,
        user: User | dict,
        *,
        message_id: str,
        ranking: list[int],
        not_rankable: bool = False,
    ) -> dict:
        """Indices into the ranking task's ``replies``, best first, each once."""
        return self.post_interaction(
            frames.ranking(user, message_id=message_id, ranking=ranking, not_rankable=not_rankable)
        )

    def label(
        self, user: User | dict, *, task: Task, labels: dict[str, float], text: str = ""
    ) -> dict:
        """The review of a ``label_*`` task: a value in [0, 1] per label (its
        ``mandatory_labels`` at least)."""
        return self.post_interaction(frames.labels(user, task=task, labels=labels, text=text))

    def task_availability(self, user: User | dict, *, lang: str | None = None) -> dict[str, int]:
        """Tasks available per type for ``user``."""
        query = f"?{urlencode({'lang': lang})}" if lang else ""
        return self.post(f"/tasks/availability{query}", User.of(user).wire())

    def ws_ticket(self) -> str:
        """A single-use ticket that opens one push socket (``ws/tasks/?ticket=``)."""
        return self.post("/ws_tickets/", {})["ticket"]

    # --- HTTP ---

    def post(self, path: str, body: dict, *, user: User | dict | None = None) -> Any:
        headers = {"Content-Type": "application/json", "X-API-Key": self.api_key}
        if user is not None:
            who = User.of(user)
            headers["X-OASST-USER"] = f"{who.auth_method}:{who.id}"
        status, data, retry_after = self._send("POST", API + path, json.dumps(body), headers)
        if status >= 400:
            raise error_from(data, status, retry_after)
        return data

    def _send(self, method: str, path: str, payload: str, headers: dict) -> tuple:
        while True:
            reused = self._connection is not None
            connection = self._connection or self._connect()
            try:
                connection.request(method, self.base_path + path, payload.encode(), headers)
                response = connection.getresponse()
                raw = response.read()
                break
            except (OSError, http.client.HTTPException):
                self.close()
                # Only a kept-alive connection the server had closed is retried (once, on a
                # new one); a failure on a fresh connection may have been carried out.
                if not reused:
                    raise
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            if response.status < 400:
                raise GroveError(f"not JSON from {path}", status=response.status) from None
            data = {"message": raw[:200].decode("utf-8", "replace")}
        retry_after = response.getheader("Retry-After")
        return response.status, data, float(retry_after) if retry_after else None

    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._secure else http.client.HTTPConnection
        self._connection = cls(self._host, self._port, timeout=self.timeout)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
