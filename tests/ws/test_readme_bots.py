"""The README's SDK bots (the blocking one and the asyncio one), run as written against a live
Grove: each is a process of its own, stopped once it has answered a few pushed tasks."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time

import pytest
from asgiref.sync import sync_to_async

from backend.accounts.services import create_api_client
from backend.trees.models import Task
from tests.live import ROOT, serve_grove

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

KEY = "readme-bots-key-0123456789abcdefghijkl"
ANSWERS = 3


def readme_bots() -> list[str]:
    """The Python blocks of the README's "A bot with the SDK" section that use the SDK."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### A bot with the SDK", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    bots = [block for block in blocks if "from grove_sdk import" in block]
    assert len(bots) == 2, "the README has a blocking and an asyncio bot"
    return bots


def answered(username: str) -> int:
    return Task.objects.filter(user__username=username, done=True).count()


async def run_until_answered(code: str, port: int) -> int:
    code = code.replace("http://127.0.0.1:8080", f"http://127.0.0.1:{port}")
    code = code.replace("<your key>", KEY)
    if "async def bot" in code:
        code += "\nimport asyncio\nasyncio.run(bot())\n"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "sdk")},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while (done := await sync_to_async(answered)("bob")) < ANSWERS:
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, f"{done} answered in 60 s"
            await asyncio.sleep(0.3)
        return done
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("which", ["blocking", "asyncio"])
async def test_the_readme_bot_answers_what_grove_pushes(sockets, which):
    code = readme_bots()[0 if which == "blocking" else 1]
    await sync_to_async(create_api_client)(name="readme", api_key=KEY)
    with serve_grove() as port:
        assert await run_until_answered(code, port) >= ANSWERS
