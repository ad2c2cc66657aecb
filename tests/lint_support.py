"""Helpers for the linter's tests (imported by name, as pytest puts tests/ on sys.path): fixture paths, an
in-process lint, and the real command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from validator.config import Config
from validator.engine import Result as LintResult
from validator.engine import run
from validator.model import Cluster, Finding
from validator.sources.files import load_paths

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent

@dataclass
class Linted:
    cluster: Cluster
    result: LintResult

    def rules(self) -> list[str]:
        return [f.rule for f in self.result.findings]

    def of(self, rule: str) -> list[Finding]:
        return [f for f in self.result.findings if f.rule == rule]


def lint_paths(*paths: str | Path, config: Config | None = None) -> Linted:
    cluster = load_paths([str(p) for p in paths])
    return Linted(cluster, run(cluster, config))


def run_cli(args: Sequence[str], cwd: str | Path | None = None, input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real command in a fresh interpreter, as a user or a pre-commit hook runs it."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "validator.cli", *args], cwd=cwd, input=input,
                          capture_output=True, timeout=timeout, env=env, check=False, text=True,
                          encoding="utf-8", errors="replace")
