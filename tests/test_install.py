"""How the project is installed and run: plain `pytest` collects the suite; more in test_wheel.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Both import styles of the suite: `from tests.webhook_support import ...`, `from lint_support import ...`.
BOTH_STYLES = ["tests/test_webhook_app.py", "tests/test_inputs.py"]


def _pytest_script() -> list[str]:
    script = Path(sys.executable).with_name("pytest")
    found = str(script) if script.exists() else shutil.which("pytest")
    if found is None:
        pytest.skip("no pytest script beside this interpreter or on PATH")
    return [found]


@pytest.mark.parametrize("command", ["pytest", "python -I -m pytest"])
def test_the_suite_collects_without_the_current_folder_on_sys_path(tmp_path: Path, command: str) -> None:
    """Plain `pytest` (and `-I`, which leaves the current folder and PYTHONPATH out as the script does) from
    another folder: the suite must not rely on `python -m` putting the repository root on sys.path."""
    argv = _pytest_script() if command == "pytest" else [sys.executable, "-I", "-m", "pytest"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    done = subprocess.run([*argv, "--collect-only", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
                           *(str(ROOT / name) for name in BOTH_STYLES)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "error" not in done.stdout.splitlines()[-1], done.stdout[-2000:]
