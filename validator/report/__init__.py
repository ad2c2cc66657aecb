"""Renderers: pure functions from a lint Report to text. Each format is a module with `render(report)`."""

from __future__ import annotations

from collections import Counter

from ..model import Finding, FindingCounts, Skipped
from ..rules import REGISTRY, Rule


class Report(FindingCounts):
    """What a lint run found, with the counts a summary needs.

    `objects` counts the Calico objects read (pools, reservations, IPAM settings, Installations), `None` when
    nobody counted them; 0 means the paths held none, which every format says plainly (`paths` names them).
    `target` keeps only that target's rules (lint, audit) in the SARIF rule list and the JUnit cases (None:
    every rule); `skipped` are the files not linted on purpose.
    """

    def __init__(self, findings: list[Finding], files: int = 0, pools: int = 0, nodes: int = 0,
                 nodes_known: bool = False, skipped_rules: list[str] | None = None,
                 ignored: list[tuple[Finding, str]] | None = None, show_ignored: bool = False, *,
                 objects: int | None = None, paths: tuple[str, ...] = (), fail_if_no_objects: bool = False,
                 target: str | None = None, skipped: list[Skipped] | None = None) -> None:
        self.findings = findings
        self.files = files
        self.pools = pools
        self.nodes = nodes
        self.nodes_known = nodes_known
        self.skipped_rules: list[str] = [] if skipped_rules is None else skipped_rules
        self.ignored: list[tuple[Finding, str]] = [] if ignored is None else ignored
        self.show_ignored = show_ignored
        self.objects = objects
        self.paths = paths
        self.fail_if_no_objects = fail_if_no_objects
        self.target = target
        self.skipped: list[Skipped] = [] if skipped is None else skipped

    @property
    def no_objects(self) -> bool:
        return self.objects == 0

    def no_objects_notice(self) -> str:
        """The plain sentence for a run that read no Calico object ("" when it read some)."""
        if not self.no_objects:
            return ""
        where = ", ".join("<stdin>" if p == "-" else p for p in self.paths) or "."
        failing = " (an error: --fail-if-no-objects-found)" if self.fail_if_no_objects else ""
        return f"no Calico objects found in {where}{failing}"

    def rule_counts(self) -> list[tuple[str, str, int]]:
        """(rule, severity, findings), errors first, then by count and rule id."""
        counts = Counter((f.rule, f.severity) for f in self.findings)
        order = {"error": 0, "warning": 1}
        return [(rule, severity, n) for (rule, severity), n in
                sorted(counts.items(), key=lambda item: (order.get(item[0][1], 2), -item[1], item[0][0]))]

    def rules_used(self) -> list[Rule]:
        return [r for r in REGISTRY.values() if self.target is None or r.target == self.target]


FORMATS = ("text", "json", "sarif", "github", "junit")


def render(report: Report, fmt: str, color: bool = False) -> str:
    """The report in one format; `color` (ANSI styles) only affects text."""
    if fmt == "text":
        from .text import render as text
        return text(report, color)
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
