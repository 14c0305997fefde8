"""``grove-volunteer``: do Grove's tasks from a terminal, by hand or simulated.

    grove-volunteer --url http://127.0.0.1:8080 --api-key KEY --user ada
    grove-volunteer --url ... --api-key KEY --simulate --tasks 50 --texts seed_messages.json

By hand: each task is printed with its conversation, and the answer read from standard input
(a text ends with an empty line; a ranking is the replies' numbers, best first; labels are
asked one by one). ``/skip`` skips a task, ``/quit`` (or end of input) stops. With
``--simulate`` the answers are made up (``answers.Answerer``) and a summary is printed at the
end. Tasks come by push (``ready`` on ``ws/tasks/``); ``--rest`` polls ``POST /tasks/``
instead, for a Grove without push dispatch (its embedded profile).
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import random
import sys
import time
from collections.abc import Iterator
from typing import TextIO

from grove_sdk.answers import Answerer, read_texts
from grove_sdk.client import GroveClient
from grove_sdk.errors import GroveError, NoTaskAvailable
from grove_sdk.push import PushedTask, PushLoop
from grove_sdk.types import User


class Quit(Exception):
    """The person typed /quit or closed standard input."""


def rest_tasks(
    client: GroveClient, user: User, *, kind: str, lang: str, idle_seconds: float | None
) -> Iterator[PushedTask]:
    """Tasks by polling ``POST /tasks/`` (each acked), once a second while there is none."""
    idle_since = time.monotonic()
    while True:
        try:
            task = client.fetch_task(user, kind, lang=lang)
        except NoTaskAvailable:
            if idle_seconds is not None and time.monotonic() - idle_since > idle_seconds:
                return
            time.sleep(1)
            continue
        client.ack_task(task["id"], task["id"], user=user)
        idle_since = time.monotonic()
        yield PushedTask(task=task, user=user, message_id=task["id"], client=client)


class Terminal:
    """The person at the keyboard: prints a task, reads its answer."""

    def __init__(self, stdin: TextIO, stdout: TextIO):
        self.stdin, self.stdout = stdin, stdout

    def say(self, text: str = "") -> None:
        print(text, file=self.stdout, flush=True)

    def ask(self, prompt: str) -> str:
        self.stdout.write(prompt)
        self.stdout.flush()
        line = self.stdin.readline()
        if not line or line.strip() == "/quit":
            raise Quit
        return line.rstrip("\n")

    def show(self, pushed: PushedTask) -> None:
        task = pushed.task
        self.say(f"\n=== {task['type']} for {pushed.user.display_name} (task {task['id']}) ===")
        for message in (task.get("conversation") or {}).get("messages", []):
            who = "assistant" if message.get("is_assistant") else "prompter"
            self.say(f"[{who}] {message['text']}")
        if pushed.answer_kind == "ranking":
            for number, reply in enumerate(task["replies"], 1):
                self.say(f"  ({number}) {reply}")

    def answer(self, pushed: PushedTask) -> dict | None:
        """Read the answer and send it; None when the person skipped the task."""
        kind, task = pushed.answer_kind, pushed.task
        if kind == "text":
            what = "a first prompt" if task["type"] == "initial_prompt" else "the next message"
            lines = [self.ask(f"Write {what} (end with an empty line, /skip to skip):\n")]
            if lines[0].strip() == "/skip":
                return self.skip(pushed)
            while lines[-1] != "":
                lines.append(self.ask(""))
            return pushed.reply("\n".join(lines).strip())
        if kind == "ranking":
            count = len(task["replies"])
            while True:
                line = self.ask(f"Rank the replies, best first (say 2 1 ... {count}): ")
                if line.strip() == "/skip":
                    return self.skip(pushed)
                try:
                    order = [int(n) - 1 for n in line.replace(",", " ").split()]
                except ValueError:
                    order = []
                if sorted(order) == list(range(count)):
                    return pushed.rank(order)
                self.say(f"each number from 1 to {count} once, please")
        return self.labels(pushed)

    def labels(self, pushed: PushedTask) -> dict | None:
        task = pushed.task
        self.say(f"Label: {task.get('prompt') or task.get('reply') or ''}")
        mandatory = set(task.get("mandatory_labels") or [])
        values: dict[str, float] = {}
        for name in task["valid_labels"]:
            need = "required" if name in mandatory else "Enter to leave out"
            while True:
                line = self.ask(f"  {name} from 0 to 1 ({need}, /skip to skip the task): ")
                if line.strip() == "/skip":
                    return self.skip(pushed)
                if not line.strip() and name not in mandatory:
                    break
                try:
                    value = float(line)
                except ValueError:
                    value = -1.0
                if 0 <= value <= 1:
                    values[name] = value
                    break
                self.say("a number from 0 to 1, please")
        return pushed.label(values)

    def skip(self, pushed: PushedTask) -> None:
        pushed.nack("skipped in grove-volunteer")
        self.say("skipped")
        return None


def parse_args(argv: list[str] | None, prog: str = "grove-volunteer") -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("GROVE_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--api-key", default=os.environ.get("GROVE_API_KEY"))
    parser.add_argument("--user", default="volunteer", help="the user's id at this frontend")
    parser.add_argument("--display-name")
    parser.add_argument("--lang", default="en")
    parser.add_argument("--type", default="random", help="task type (OA's), random by default")
    parser.add_argument("--simulate", action="store_true", help="answer automatically")
    parser.add_argument("--tasks", type=int, help="stop after this many answered tasks")
    parser.add_argument("--idle", type=float, help="stop after this many seconds without a task")
    parser.add_argument("--texts", help="OA seed-message JSON for --simulate's texts")
    parser.add_argument("--seed", type=int, help="random seed for --simulate")
    parser.add_argument("--rest", action="store_true", help="poll POST /tasks/ instead of push")
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("an API key is needed: --api-key or GROVE_API_KEY")
    return args


def main(
    argv: list[str] | None = None,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    *,
    prog: str = "grove-volunteer",
) -> int:
    """Run the client on ``argv``; the exit status (1: every task was refused)."""
    args = parse_args(argv, prog)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    client = GroveClient(args.url, args.api_key)
    user = User(args.user, args.display_name or args.user)
    if args.rest:
        tasks = rest_tasks(client, user, kind=args.type, lang=args.lang, idle_seconds=args.idle)
    else:
        loop = PushLoop(
            client, [user], langs=[args.lang], task_kind=args.type, idle_seconds=args.idle
        )
        tasks = loop.tasks()
    terminal = Terminal(stdin, stdout)
    answerer = Answerer(read_texts(args.texts), random.Random(args.seed))
    done: collections.Counter[str] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    started = time.monotonic()
    try:
        for pushed in tasks:
            try:
                if args.simulate:
                    answered = answerer.answer(pushed)
                else:
                    terminal.show(pushed)
                    answered = terminal.answer(pushed)
                    if answered is not None:
                        terminal.say(f"stored: {answered['type']} {answered['id']}")
            except GroveError as exc:
                errors[type(exc).__name__] += 1
                terminal.say(f"refused: {exc}")
                continue
            if answered is not None:
                done[pushed.type] += 1
            if args.tasks is not None and sum(done.values()) >= args.tasks:
                break
    except Quit:
        pass
    finally:
        tasks.close()
        client.close()
    seconds = time.monotonic() - started
    summary = ", ".join(f"{kind} {n}" for kind, n in sorted(done.items())) or "none"
    terminal.say(f"answered {sum(done.values())} tasks in {seconds:.1f} s: {summary}")
    if errors:
        terminal.say("refused: " + ", ".join(f"{name} {n}" for name, n in errors.items()))
    return 0 if not errors or done else 1


if __name__ == "__main__":
    sys.exit(main())
