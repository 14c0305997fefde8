"""The pure core and the simulator built on it need nothing but the standard library.

Each check imports the modules in a fresh interpreter started with ``-S`` (no site-packages,
so neither Django nor any other installed package can be found) and with no Django settings
module in the environment: an import of Django or of any third-party package fails there.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import backend.trees.core

ROOT = Path(__file__).resolve().parents[2]
CORE_MODULES = sorted(
    f"backend.trees.core.{info.name}" for info in pkgutil.iter_modules(backend.trees.core.__path__)
)


def import_bare(*modules: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import importlib, sys\n"
        f"for name in {list(modules)!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted({m.partition('.')[0] for m in sys.modules} - set(sys.stdlib_module_names)"
        " - {'backend', 'tests', '__main__'})\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    return subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_core_has_the_expected_modules():
    assert "backend.trees.core.shape" in CORE_MODULES
    assert "backend.trees.core.policy" in CORE_MODULES


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_only_the_standard_library(module):
    result = import_bare(module)
    assert result.returncode == 0, result.stderr or result.stdout
    assert "django" not in result.stdout


def test_simulator_imports_only_the_core_and_the_standard_library():
    result = import_bare("tests.unit.simulation")
    assert result.returncode == 0, result.stderr or result.stdout
