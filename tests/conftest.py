"""Fixtures for the linter's tests; the helpers themselves live in lint_support.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from click.testing import CliRunner, Result
from lint_support import Linted, lint_paths

from validator.cli import main


@pytest.fixture
def lint() -> Callable[..., Linted]:
    return lint_paths


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Invoke the click command in-process; exceptions other than SystemExit are test failures."""

    def invoke(args: Sequence[str], input: str | bytes | None = None) -> Result:
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke
