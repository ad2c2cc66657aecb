"""Renderers for `audit`: the JSON document (validator/schemas/audit.schema.json) and the text tables.

Findings are rendered exactly as lint's (`jsonout.finding_dict`, `text` lines), so a script or a CI step
reads audit findings as it reads lint's; SARIF, GitHub and JUnit go through lint's renderers unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from ..audit.core import AuditResult
from ..audit.forecast import Forecast, Trend
from ..audit.utilisation import NodeUsage, PoolUsage
from ..model import family_name
from .jsonout import finding_dict

TEXT_NODES = 20  # the text table shows the nodes with the least headroom; JSON lists them all


def pool_entry(usage: PoolUsage) -> dict[str, Any]:
    pool = usage.pool
    return {
        "name": pool.name,
        "cidr": pool.cidr_text,
        "family": family_name(pool.version or 4),
        "blockSize": pool.block_size,
        "disabled": pool.disabled,
        "nodeSelector": pool.node_selector,
        "blocks": {
            "total": usage.blocks_total,
            "allocated": usage.blocks_allocated,
            "free": usage.blocks_free,
        },
        "addresses": {
            "total": usage.addresses_total,
            "inUse": usage.in_use,
            "reserved": usage.reserved,
            "free": usage.free,
        },
        "borrowed": usage.borrowed,
        "cooling": usage.cooling,
    }


def node_entry(usage: NodeUsage) -> dict[str, Any]:
    return {
        "name": usage.name,
        "exists": usage.node is not None,
        "blocks": usage.blocks,
        "maxBlocks": usage.max_blocks,
        "addressesInUse": usage.addresses_in_use,
        "podHeadroom": usage.pod_headroom,
        "maxPods": usage.max_pods,
        "borrowed": usage.borrowed,
        "families": [
            {
                "family": family_name(f.family),
                "blocks": f.blocks,
                "freeInBlocks": f.free_in_blocks,
                "pods": f.pods,
                "capacity": f.capacity(usage.max_blocks),
                "pools": f.pools,
            }
            for _, f in sorted(usage.families.items())
        ],
        "pools": [
            {
                "name": h.pool,
                "selects": h.selects,
                "blocks": h.blocks,
                "blockHeadroom": h.block_headroom,
                "podHeadroom": h.pod_headroom,
            }
            for h in usage.pool_headroom()
        ],
    }


def _trend(trend: Trend) -> dict[str, Any]:
    return {
        "name": trend.name,
        "blocksPerDay": trend.blocks_per_day,
        "addressesPerDay": trend.addresses_per_day,
        "daysToExhaustion": trend.days_to_exhaustion,
        "daysToAddressExhaustion": trend.days_to_address_exhaustion,
    }


def forecast_dict(forecast: Forecast) -> dict[str, Any]:
    return {
        "basis": forecast.basis,
        "note": forecast.note,
        "windowDays": forecast.window_days,
        "pools": [_trend(t) for t in forecast.pools],
        "nodes": [_trend(t) for t in forecast.nodes],
    }


def as_dict(result: AuditResult, origin: str, show_ignored: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": __version__,
        "origin": origin,
        "now": result.now.isoformat(),
        "findings": [finding_dict(f) for f in result.findings],
        "utilisation": {
            "pools": [pool_entry(u) for u in result.usage.pools],
            "nodes": [node_entry(u) for u in result.usage.nodes],
            "noPool": {
                "blocks": len(result.usage.no_pool),
                "addressesInUse": sum(b.in_use for b in result.usage.no_pool),
                "cidrs": sorted(str(b.network) for b in result.usage.no_pool),
            },
        },
        "summary": dict(
            result.summary,
            errors=result.errors,
            warnings=result.warnings,
            skippedRules=result.skipped_rules,
            ignored=len(result.ignored),
        ),
        "forecast": forecast_dict(result.forecast),
    }
    if show_ignored:
        doc["ignored"] = [dict(finding_dict(f), reason=reason) for f, reason in result.ignored]
    return doc


def render_json(result: AuditResult, origin: str, show_ignored: bool = False) -> str:
    return json.dumps(as_dict(result, origin, show_ignored), indent=2) + "\n"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = []
    for row in [header, *rows]:
        cells = [
            str(c).rjust(w) if i and str(c)[:1].isdigit() else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _number(value: int) -> str:
    return f"{value:,}" if value < 10**9 else f"{value:.4g}"


def render_text(result: AuditResult, origin: str, show_ignored: bool = False) -> str:
    usage = result.usage
    lines = _table(
        ["POOL", "CIDR", "BLOCK", "BLOCKS", "ALLOCATED", "FREE", "IPS", "IN USE", "RESERVED", "FREE IPS"],
        [
            [
                u.pool.name,
                u.pool.cidr_text,
                f"/{u.pool.block_size}",
                _number(u.blocks_total),
                _number(u.blocks_allocated),
                _number(u.blocks_free),
                _number(u.addresses_total),
                _number(u.in_use),
                _number(u.reserved),
                _number(u.free),
            ]
            for u in usage.pools
        ],
    )
    if usage.no_pool:
        lines.append(
            f"(no pool)  {len(usage.no_pool)} block(s), "
            f"{sum(b.in_use for b in usage.no_pool)} address(es) in use"
        )
    nodes = sorted(usage.nodes, key=lambda n: (n.pod_headroom, n.name))
    lines.append("")
    lines += _table(
        ["NODE", "BLOCKS", "MAX", "IN USE", "BORROWED", "MAX PODS", "HEADROOM"],
        [
            [
                n.name + ("" if n.node else " (gone)"),
                str(n.blocks),
                str(n.max_blocks),
                str(n.addresses_in_use),
                str(n.borrowed),
                str(n.max_pods),
                str(n.pod_headroom),
            ]
            for n in nodes[:TEXT_NODES]
        ],
    )
    if len(nodes) > TEXT_NODES:
        lines.append(
            f"... {len(nodes) - TEXT_NODES} more nodes (least headroom first; --format json lists all)"
        )
    lines += ["", *_forecast_lines(result.forecast), ""]
    for f in result.findings:
        where = f"{f.source.file}:{f.source.line}" if f.source else "-"
        lines.append(f"{where}: {f.severity} {f.rule}: {f.message}")
    if show_ignored:
        for f, reason in result.ignored:
            where = f"{f.source.file}:{f.source.line}" if f.source else "-"
            lines.append(f"{where}: ignored {f.rule}: {f.message} (reason: {reason})")
    lines.append(_summary_line(result, origin))
    return "\n".join(lines) + "\n"


def _forecast_lines(forecast: Forecast) -> list[str]:
    if forecast.basis == "none":
        return [f"forecast: none ({forecast.note})"]
    lines = [f"forecast ({forecast.basis}, {forecast.window_days:g} days): {forecast.note}"]
    for trend in forecast.pools:
        if trend.days_to_exhaustion is None:
            days = "no growth seen"
        elif trend.days_to_exhaustion == 0:
            days = "no free block left"
        else:
            days = f"{trend.days_to_exhaustion:g} days to its last free block"
        lines.append(
            f"  {trend.name}: {trend.blocks_per_day:+g} blocks/day, {trend.addresses_per_day:+g} "
            f"addresses/day, {days}"
        )
    soon = sorted(
        (t for t in forecast.nodes if t.days_to_exhaustion is not None),
        key=lambda t: t.days_to_exhaustion or 0.0,
    )[:5]
    lines += [f"  node {t.name}: {t.days_to_exhaustion:g} days to its block limit" for t in soon]
    return lines


def _summary_line(result: AuditResult, origin: str) -> str:
    s = result.summary
    text = (
        f"{result.errors} error(s), {result.warnings} warning(s); {s['pools']} pools, {s['nodes']} nodes, "
        f"{s['blocks']} blocks, {s['addressesInUse']} addresses in use ({origin})"
    )
    if result.skipped_rules:
        text += f"; skipped (input missing): {', '.join(result.skipped_rules)}"
    return text
