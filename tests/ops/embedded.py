"""Run Grove as operators do (manage.py and uvicorn subprocesses) in the embedded profile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Variables that would switch a subprocess away from the embedded profile (the suite itself
# runs with DATABASE_URL and REDIS_URL set, see scripts/test).
PROFILE_VARIABLES = ("DATABASE_URL", "REDIS_URL")
PROFILE_PREFIXES = ("GROVE_", "CELERY_", "TEST_")


def embedded_environment(var_dir: Path, **overrides: str) -> dict[str, str]:
    """This process's environment minus every Grove setting, with its own GROVE_VAR_DIR."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in PROFILE_VARIABLES and not name.startswith(PROFILE_PREFIXES)
    }
    env["DJANGO_SETTINGS_MODULE"] = "backend.settings"
    env["GROVE_VAR_DIR"] = str(var_dir)
    env.update(overrides)
    return env


def run_manage(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
