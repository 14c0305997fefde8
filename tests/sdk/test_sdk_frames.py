"""The SDK's frames: answers matched to their commands, and an SDK that never imports Django."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from grove_sdk import frames
from grove_sdk.types import User

SDK = Path(__file__).resolve().parents[2] / "sdk"


def test_an_answer_is_matched_by_its_request_id():
    assert frames.is_answer({"type": "task_done", "request_id": "3"}, "3", "message_ranking")
    assert not frames.is_answer({"type": "task_done", "request_id": "2"}, "3", "message_ranking")
    assert frames.is_answer({"type": "error", "request_id": "3"}, "3", "task_ack")


def test_without_an_echoed_request_id_the_answer_type_or_an_error_matches():
    assert frames.is_answer({"type": "ready_ok"}, "1", "ready")
    assert frames.is_answer({"type": "error"}, "1", "ready")
    assert not frames.is_answer({"type": "keepalive"}, "1", "ready")
    assert not frames.is_answer({"type": "task_acked"}, "1", "ready")


def test_the_sdk_imports_no_django():
    check = (
        "import sys, grove_sdk, grove_sdk.aio, grove_sdk.volunteer, grove_sdk.answers; "
        "assert not [m for m in sys.modules if m.split('.')[0] in ('django', 'bench')]"
    )
    run = subprocess.run(
        [sys.executable, "-c", check], cwd=SDK, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr


def test_a_not_ready_frame_takes_only_its_user_out_of_the_loops_users():
    alice, bob = User("alice", "Alice"), User("alice", "Alice", auth_method="discord")
    frame = {"type": "not_ready", "user": {"id": "alice", "auth_method": "local"}}
    assert frames.still_ready([alice, bob], frame) == [bob]
    assert frames.still_ready([bob], frame) == [bob]
