"""`audit(state, now, policy) -> AuditResult`: the one pure function every audit front end calls.

It reads nothing: a reader (`dumps`, `live`) builds the AuditState, this counts and judges it, and
renderers and the exporter turn the result into text, JSON or metrics. The rules are the registry's audit
rules, run like lint's (levels, exemptions by annotation on pools and nodes, sorted findings); a rule whose
input is absent (no nodes, no pods, no handles read) is skipped and named in `skipped_rules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..config import Config
from ..engine import Result, apply_policy
from ..exemptions import exemptions
from ..model import Cluster, Finding, FindingCounts
from .analysis import Analysis
from .context import AuditContext
from .forecast import Forecast, from_timestamps, from_two_states
from .model import AuditPolicy, AuditState
from .utilisation import Utilisation, utilisation

FORECAST_WINDOW = timedelta(days=7)


@dataclass
class AuditResult(FindingCounts):
    findings: list[Finding]
    usage: Utilisation
    summary: dict[str, Any]
    forecast: Forecast
    now: datetime
    ignored: list[tuple[Finding, str]] = field(default_factory=list)
    skipped_rules: list[str] = field(default_factory=list)


def audit(
    state: AuditState, now: datetime, policy: AuditPolicy | None = None, since: AuditState | None = None
) -> AuditResult:
    """Utilisation, findings, summary counts and forecast of one IPAM state, as of `now`.

    `since`, an older state of the same cluster, turns the forecast into a two-dump one (it needs its
    `taken_at`)."""
    from ..rules import REGISTRY

    policy = policy or AuditPolicy()
    usage = utilisation(state, policy)
    analysis = Analysis(state, usage, policy, now)
    raw: list[Finding] = []
    skipped: list[str] = []
    for rule in REGISTRY.values():
        if rule.target != "audit" or policy.rule_levels.get(rule.id) == "off":
            continue
        missing = [need for need in rule.needs_input if not _has(state, need)]
        if missing:
            skipped.append(rule.id)
            continue
        raw.extend(rule.check(AuditContext(state, usage, analysis, policy, now, rule)))  # type: ignore[arg-type]
    raw.extend(state.problems)  # after the rules: streamed handles may add to them
    result = Result()
    exempt = exemptions(Cluster(pools=state.pools, nodes=state.nodes, reservations=state.reservations))
    apply_policy(raw, Config(rule_levels=dict(policy.rule_levels)), exempt, result)  # type: ignore[arg-type]
    result.findings.sort(key=Finding.sort_key)
    forecast = _forecast(state, usage, policy, now, since)
    summary = _summary(state, usage, analysis, result.findings)
    return AuditResult(result.findings, usage, summary, forecast, now, result.ignored, skipped)


def _has(state: AuditState, need: str) -> bool:
    if need == "nodes":
        return state.nodes_known
    if need == "pods":
        return state.pods is not None and state.nodes_known
    if need == "handles":
        return state.handles is not None
    if need == "pod-status":
        return state.pods is not None and state.pod_status
    raise ValueError(f"unknown audit input {need!r}")


def _forecast(
    state: AuditState, usage: Utilisation, policy: AuditPolicy, now: datetime, since: AuditState | None
) -> Forecast:
    if since is not None and since.taken_at is not None:
        return from_two_states(utilisation(since, policy), usage, since.taken_at, state.taken_at or now)
    return from_timestamps(state, usage, now, FORECAST_WINDOW)


def _summary(
    state: AuditState, usage: Utilisation, analysis: Analysis, findings: list[Finding]
) -> dict[str, Any]:
    """The counts an exporter publishes, so that it needs no second pass over the state."""
    handles = analysis.handles
    by_rule: dict[str, int] = {}
    for finding in findings:
        by_rule[finding.rule] = by_rule.get(finding.rule, 0) + 1
    nodes = [n for n in usage.nodes if n.node is not None]
    return {
        "pools": len(usage.pools),
        "nodes": len(nodes),
        "blocks": len(state.blocks),
        "blocksInNoPool": len(usage.no_pool),
        "addressesInNoPool": sum(b.in_use for b in usage.no_pool),
        "affinities": len(state.affinities),
        "addressesInUse": sum(b.in_use for b in state.blocks),
        "borrowed": sum(p.borrowed for p in usage.pools)
        + sum(1 for b in usage.no_pool for a in b.allocations if a.node and a.node != b.host),
        "cooling": sum(p.cooling for p in usage.pools),
        "maxBlocksPerHost": usage.max_blocks,
        "leaks": {state_: dict(sorted(counts.items())) for state_, counts in analysis.leak_counts.items()},
        "handles": None
        if handles is None
        else {"total": handles.total, "orphaned": len(handles.orphaned), "missing": len(handles.missing)},
        "nodesByState": {
            "noPool": sum(1 for n in nodes if not any(f.pools for f in n.families.values())),
            "atBlockLimit": sum(1 for n in nodes if n.at_block_limit),
            "inDeficit": sum(1 for n in nodes if n.short_families()),
        },
        "findingsByRule": dict(sorted(by_rule.items())),
        "problemsByClass": {  # the exporter's `class` label values (docs/metrics.md)
            "leaked_address": sum(analysis.leak_counts["confirmed"].values()),
            "suspect_address": sum(analysis.leak_counts["candidate"].values()),
            "orphaned_handle": len(handles.orphaned) if handles is not None else 0,
            "missing_handle": len(handles.missing) if handles is not None else 0,
            "stale_affinity": by_rule.get("affinity-stale", 0),
            "invalid_block": sum(1 for b in state.blocks if b.problems),
        },
    }
