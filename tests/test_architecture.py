"""The import rules ARCHITECTURE.md states, checked on the source: data flows sources -> model -> engine
(rules) -> findings -> front ends, and nothing reaches up. A new import that breaks a rule fails here, so the
map cannot silently stop being true."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "validator"
FRONT_ENDS = {"cli", "webhook"}
# The core knows no reader, no rule and no front end.
CORE = {"selector", "addresses", "schemas", "model", "exemptions", "view", "nodeindex", "analysis"}
LAYERS_ABOVE_RULES = {"sources", "engine", "report", "webhook", "cli", "outputs", "certs", "exporter"}


def unit(path: Path) -> list[str]:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def imported_units(path: Path) -> set[str]:
    """The top-level units of validator (model, rules, webhook...) this module imports, lazily or not."""
    here = unit(path)
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "validator":
                target = node.module.split(".")[1:]
            else:
                continue
            if target:
                found.add(target[0])
            else:  # `from . import x` at the top of the package
                found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("validator.")}
    return found - {here[0] if here else ""}


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_walk_finds_the_package() -> None:
    assert len(MODULES) > 50
    assert "model" in imported_units(PACKAGE / "analysis.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_map(path: Path) -> None:
    owner = unit(path)[0] if unit(path) else ""
    uses = imported_units(path)
    if owner != "cli":
        assert "cli" not in uses, "nothing imports the command line"
    if owner not in FRONT_ENDS:
        assert "webhook" not in uses, "only the command line starts the webhook"
    if owner in CORE:
        assert not uses & (LAYERS_ABOVE_RULES | {"rules", "audit", "config"}), uses
    if owner == "rules":
        assert not uses & LAYERS_ABOVE_RULES, uses
