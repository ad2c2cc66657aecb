"""Fixtures for the chart tests. Every test here needs helm: see chart_render.require_helm."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The tests import chart_render by name whatever pytest's import mode is (importlib mode does not put a test
# directory on sys.path).
sys.path.insert(0, str(Path(__file__).parent))

import chart_render  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def helm() -> str:
    return chart_render.require_helm()


@pytest.fixture(scope="session")
def default_objects(helm: str) -> list[chart_render.Manifest]:
    return chart_render.render()
