"""The exporter's series (docs/metrics.md, the contract) from one audit: a pure function of its result.

`snapshot(state, result)` returns immutable metric families; the exporter swaps the whole snapshot in
after each complete audit, so a scrape never sees half of one pass, and memory follows the current
cluster, never its history.

The per-node numbers are the audit's own (`validator.audit.utilisation.NodeUsage`, which follows
libcalico-go `lib/ipam/ipam.go` `prepareAffinityBlocksForHost` and `autoAssign`), so `audit --format json`
and these series never disagree; nothing here counts blocks itself:

- per (pool, node), only where the pool selects the node or the node holds a block of the pool (its
  `pool_headroom()`): a pool that no longer selects the node gives it nothing (both series 0).
- `nodes{...}` is the audit summary's `nodesByState`.
- `pool_addresses{state="reserved"}` also counts the Windows-reserved ends of blocks (handle
  `windows-reserved-ipam-handle`, lib/ipam/ipam_block.go), which the audit counts as in use, as calicoctl
  does; an address allocated inside an IPReservation counts both as in use and as reserved.
- a leak class is absent, not 0, when the audit could not judge it (its input was not read or its rule is
  off): a zero would say "no leaks" where nothing was looked at.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..audit.core import AuditResult
from ..audit.model import WINDOWS_HANDLE, AuditState
from ..audit.utilisation import PoolUsage

PREFIX = "ippool_validator"
LEAK_CLASSES = (  # class label -> the audit rule that judges it
    ("leaked_address", "address-leaked"),
    ("suspect_address", "address-leaked"),
    ("orphaned_handle", "handle-orphaned"),
    ("missing_handle", "handle-missing"),
    ("stale_affinity", "affinity-stale"),
    ("invalid_block", "block-invalid"),
)


@dataclass(frozen=True)
class Snapshot:
    """The series of one complete audit; never changed after it is built."""

    families: tuple[Metric, ...]
    finished_at: float  # Unix time the audit completed
    duration: float  # seconds it took

    @property
    def series_count(self) -> int:
        return sum(len(f.samples) for f in self.families)


def snapshot(state: AuditState, result: AuditResult, finished_at: float, duration: float,
             off_rules: Iterable[str] = ()) -> Snapshot:
    """Every audit series of docs/metrics.md (the process series, failures and staleness, are the
    exporter's: see `process_families`)."""
    pools = [u for u in result.usage.pools if u.pool.network is not None]
    families = (
        *_pool_families(pools),
        *_node_families(result),
        _leaks(result, set(off_rules)),
        _gauge("max_blocks_per_host", "The block limit per host IPAM applies (IPAMConfiguration "
               "maxBlocksPerHost, 0 meaning 20)", [], [((), result.usage.max_blocks)]),
    )
    return Snapshot(tuple(families), finished_at, duration)


def process_families(last: Snapshot | None, failures: int) -> Iterator[Metric]:
    """Staleness and failure series: the last good audit's time and duration, and failed audits."""
    if last is not None:
        yield _gauge("audit_last_success_timestamp_seconds", "Unix time of the last complete audit", [],
                     [((), last.finished_at)])
        yield _gauge("audit_duration_seconds", "How long the last complete audit took", [],
                     [((), last.duration)])
    counter = CounterMetricFamily(f"{PREFIX}_audit_failures", "Audits that failed; the other series keep "
                                  "the last good audit", labels=[])
    counter.add_metric([], failures)
    yield counter


def _gauge(name: str, doc: str, labels: list[str],
           samples: Iterable[tuple[tuple[str, ...], float]]) -> Metric:
    family = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


def _pool_families(pools: list[PoolUsage]) -> Iterator[Metric]:
    info, blocks, addresses = [], [], []
    for usage in pools:
        pool, name = usage.pool, usage.pool.name
        info.append(((name, name, str(pool.network), str(pool.version), str(pool.block_size),
                      "true" if pool.disabled else "false"), 1))
        blocks += [((name, "allocated"), usage.blocks_allocated), ((name, "free"), usage.blocks_free)]
        windows = sum(1 for b in usage.blocks for a in b.allocations if a.handle == WINDOWS_HANDLE)
        addresses += [((name, "in_use"), usage.in_use - windows),
                      ((name, "reserved"), usage.reserved + windows), ((name, "free"), usage.free)]
    yield _gauge("pool_info", "1 per IP pool; ippool repeats pool under kube-controllers' label name, to "
                 "join its ipam_* series", ["pool", "ippool", "cidr", "family", "block_size", "disabled"],
                 info)
    yield _gauge("pool_blocks", "Blocks of the pool's CIDR: allocated (existing, affine or not) and free "
                 "(not yet claimed)", ["pool", "state"], blocks)
    yield _gauge("pool_addresses", "Addresses of the pool: in use (allocated in a block), reserved "
                 "(IPReservations, Windows-reserved block ends) and free", ["pool", "state"], addresses)


def _node_families(result: AuditResult) -> Iterator[Metric]:
    nodes = [n for n in result.usage.nodes if n.node is not None]
    pairs = sorted(((h.pool, n.name), h) for n in nodes for h in n.pool_headroom())
    states = result.summary["nodesByState"]
    yield _gauge("node_block_headroom", "Blocks the node may still claim from the pool: its room under "
                 "maxBlocksPerHost or the pool's free blocks, the smaller", ["pool", "node"],
                 [(key, h.block_headroom) for key, h in pairs])
    yield _gauge("node_pod_headroom", "Pods the node can still start with an address from the pool, capped "
                 "by status.allocatable.pods less its pods", ["pool", "node"],
                 [(key, h.pod_headroom) for key, h in pairs])
    yield _gauge("nodes", "Nodes no enabled pool selects, nodes holding maxBlocksPerHost blocks, nodes that "
                 "cannot reach their max pods within the block limit", ["state"],
                 [(("no_pool",), states["noPool"]), (("at_block_limit",), states["atBlockLimit"]),
                  (("in_deficit",), states["inDeficit"])])


def _leaks(result: AuditResult, off: set[str]) -> Metric:
    leaks = result.summary.get("leaks") or {}
    handles = result.summary.get("handles")
    by_rule: dict[str, int] = {}
    for finding in result.findings:
        by_rule[finding.rule] = by_rule.get(finding.rule, 0) + 1
    counts = {
        "leaked_address": sum((leaks.get("confirmed") or {}).values()),
        "suspect_address": sum((leaks.get("candidate") or {}).values()),
        "orphaned_handle": handles["orphaned"] if handles else None,
        "missing_handle": handles["missing"] if handles else None,
        "stale_affinity": by_rule.get("affinity-stale", 0),
        "invalid_block": by_rule.get("block-invalid", 0),
    }
    judged = [
        ((cls,), counts[cls]) for cls, rule in LEAK_CLASSES
        if rule not in result.skipped_rules and rule not in off and counts[cls] is not None
    ]
    return _gauge("ipam_leaks", "IPAM problems by class: addresses invalid past the grace period (leaked) or "
                  "within it (suspect), orphaned and missing handles, stale affinities, invalid blocks",
                  ["class"], judged)
