"""``grove-volunteer`` (sdk/grove_sdk/volunteer.py) as a person or a bench runs it: a process
of its own against a live Grove, its tasks pushed over ``ws/tasks/``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from asgiref.sync import sync_to_async

from backend.accounts.services import create_api_client
from backend.trees.models import Message, Task
from tests.live import ROOT, serve_grove

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

KEY = "terminal-tests-key-0123456789abcdefghij"


def volunteer(port: int, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grove_sdk", "--url", f"http://127.0.0.1:{port}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
        env={**os.environ, "GROVE_API_KEY": KEY, "PYTHONPATH": str(ROOT / "sdk")},
    )


def done_tasks(username: str) -> list[Task]:
    return list(Task.objects.filter(user__username=username, done=True))


async def test_a_person_writes_a_prompt_through_standard_input(sockets):
    await sync_to_async(create_api_client)(name="terminal", api_key=KEY)
    with serve_grove() as port:
        run = await asyncio.to_thread(
            volunteer,
            port,
            *("--user", "grace", "--type", "initial_prompt", "--tasks", "1", "--idle", "20"),
            stdin="Why do cats purr when\nthey are content?\n\n",
        )
    assert run.returncode == 0, run.stderr
    assert "=== initial_prompt for grace" in run.stdout
    assert "answered 1 tasks" in run.stdout
    message = await sync_to_async(Message.objects.get)(user__username="grace")
    assert message.text == "Why do cats purr when\nthey are content?"
    assert message.role == "prompter"


async def test_a_person_who_quits_leaves_the_task_unanswered(sockets):
    await sync_to_async(create_api_client)(name="terminal", api_key=KEY)
    with serve_grove() as port:
        run = await asyncio.to_thread(
            volunteer,
            port,
            *("--user", "quitter", "--type", "initial_prompt", "--idle", "20"),
            stdin="/quit\n",
        )
    assert run.returncode == 0, run.stderr
    assert "answered 0 tasks" in run.stdout
    assert not await sync_to_async(Message.objects.filter(user__username="quitter").exists)()


async def test_simulate_mode_answers_the_number_of_tasks_asked(sockets):
    await sync_to_async(create_api_client)(name="terminal", api_key=KEY)
    with serve_grove(workers=2) as port:
        run = await asyncio.to_thread(
            volunteer, port, "--simulate", "--user", "sim", "--tasks", "5", "--idle", "20"
        )
    assert run.returncode == 0, run.stderr
    assert "answered 5 tasks" in run.stdout
    assert len(await sync_to_async(done_tasks)("sim")) == 5


async def test_manage_py_volunteer_runs_the_same_terminal_client(sockets):
    await sync_to_async(create_api_client)(name="terminal", api_key=KEY)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    with serve_grove() as port:
        run = await asyncio.to_thread(
            subprocess.run,
            [
                *(sys.executable, "manage.py", "volunteer", "--url", f"http://127.0.0.1:{port}"),
                *("--user", "managed", "--type", "initial_prompt", "--tasks", "1", "--idle", "20"),
            ],
            input="What is the tallest tree on Earth?\n\n",
            capture_output=True,
            text=True,
            timeout=90,
            cwd=ROOT,
            # No sdk/ on the path: the command finds the SDK beside Grove's tree.
            env={**env, "GROVE_API_KEY": KEY},
        )
    assert run.returncode == 0, run.stderr
    assert "=== initial_prompt for managed" in run.stdout and "answered 1 tasks" in run.stdout
    message = await sync_to_async(Message.objects.get)(user__username="managed")
    assert message.text == "What is the tallest tree on Earth?"
    help_run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "manage.py", "volunteer", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )
    assert help_run.returncode == 0 and "manage.py volunteer" in help_run.stdout
    assert "--simulate" in help_run.stdout
