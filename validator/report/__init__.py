"""Renderers: pure functions from a lint Report to text. Each format is a module with `render(report)`."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import Finding
from ..rules import REGISTRY, Rule


@dataclass
class Report:
    """What a lint run found, with the counts a summary needs."""

    findings: list[Finding]
    files: int = 0
    pools: int = 0
    nodes: int = 0
    nodes_known: bool = False
    skipped_rules: list[str] = field(default_factory=list)
    ignored: list[tuple[Finding, str]] = field(default_factory=list)
    show_ignored: bool = False

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    def rules_used(self) -> list[Rule]:
        return list(REGISTRY.values())


FORMATS = ("text", "json", "sarif", "github", "junit")


def render(report: Report, fmt: str) -> str:
    if fmt == "text":
        from .text import render as text
        return text(report)
    if fmt == "json":
        from .jsonout import render as as_json
        return as_json(report)
    if fmt == "sarif":
        from .sarif import render as sarif
        return sarif(report)
    if fmt == "github":
        from .github import render as github
        return github(report)
    if fmt == "junit":
        from .junit import render as junit
        return junit(report)
    raise ValueError(f"unknown format {fmt!r}")
