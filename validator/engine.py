"""Runs the enabled rules over a Cluster and applies the policy: levels, exemptions, order.

The engine knows no front end: the linter and the webhook both build a Cluster (and maybe a Focus), call
`run`, and render what comes back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .analysis import ClusterView
from .config import Config
from .exemptions import Exemptions
from .model import IGNORE_ANNOTATION, Cluster, Finding, FindingCounts, Skipped
from .rules import REGISTRY, Rule
from .rules.base import Context, Focus
from .view import View


class Result(FindingCounts):
    """The findings, those set aside by an exemption (with its reason), the rules that could not run (no
    nodes known) and the files not linted on purpose (with the reason)."""

    def __init__(self, findings: list[Finding] | None = None,
                 ignored: list[tuple[Finding, str]] | None = None, skipped_rules: list[str] | None = None,
                 skipped: list[Skipped] | None = None) -> None:
        self.findings: list[Finding] = [] if findings is None else findings
        self.ignored: list[tuple[Finding, str]] = [] if ignored is None else ignored
        self.skipped_rules: list[str] = [] if skipped_rules is None else skipped_rules
        self.skipped: list[Skipped] = [] if skipped is None else skipped


def enabled_rules(config: Config) -> list[Rule]:
    return [r for r in REGISTRY.values() if r.target == "lint" and config.rule_levels.get(r.id) != "off"]


def run(cluster: Cluster, config: Config | None = None, focus: Focus | None = None,
        view: View | None = None, rules: Sequence[Rule] | None = None) -> Result:
    """All findings for the cluster (or only those about the focus), sorted by file, line and rule.
    `rules` are the config's `enabled_rules`, when the caller already has them (the webhook, per request)."""
    config = config or Config()
    if view is None:
        view = ClusterView(cluster)
    result = Result(skipped=sorted(cluster.skipped, key=lambda s: s.file) if cluster.skipped else [])
    raw: list[Finding] = list(cluster.problems) if focus is None else []
    context = Context(cluster, view, config, focus)  # one per run: its `rule` is the rule being run
    nodes_known, extend = cluster.nodes_known, raw.extend  # (the webhook runs some 20 rules a request)
    for rule in enabled_rules(config) if rules is None else rules:
        if rule.needs_nodes and not nodes_known:
            result.skipped_rules.append(rule.id)
            continue
        context.rule = rule
        extend(rule.check(context))  # drained before the next rule takes the context
    if raw:  # (a webhook run usually finds nothing: no exemptions to read, nothing to sort)
        # the view reads the exemptions once (the webhook judges many changes per view)
        apply_policy(raw, config, view.exemptions(), result)
        result.findings.sort(key=Finding.sort_key)
        if result.ignored:
            result.ignored.sort(key=lambda pair: pair[0].sort_key())
    return result


def apply_policy(raw: Iterable[Finding], config: Config, exempt: Exemptions,
                 into: Result) -> None:
    """Give each finding its configured level, drop those turned off, and set aside the exempted ones."""
    for finding in raw:
        level = config.rule_levels.get(finding.rule)
        if level == "off":
            continue
        if level in ("warning", "error") and level != finding.severity:
            finding = finding.with_severity(level)
        reason = _exempted(finding, exempt)
        if reason is not None:
            into.ignored.append((finding, reason))
        else:
            into.findings.append(finding)


def _exempted(finding: Finding, exempt: Exemptions) -> str | None:
    if finding.resource is None:
        return None
    entry = exempt.get(finding.resource)
    if entry is None:
        return None
    rules, reason = entry
    if finding.rule in rules or "all" in rules:
        return reason or f"annotated {IGNORE_ANNOTATION}"
    return None
