"""The exporter's series (docs/metrics.md, the contract) from one audit: a pure function of its result.

`snapshot(state, result)` returns immutable metric families; the exporter swaps the whole snapshot in
after each complete audit, so a scrape never sees half of one pass, and memory follows the current
cluster, never its history.

Numbers the audit core does not state directly are worked out here from its utilisation:

- per (pool, node), only where the pool selects the node (a workload pool: Calico's `determinePools`
  skips disabled ones) or the node holds a block of the pool. `node_block_headroom` is the smaller of the
  node's room under `maxBlocksPerHost` in the pool's family and the pool's free blocks; `node_pod_headroom`
  is the free addresses of its affine blocks in that pool plus those claimable blocks' addresses, capped by
  `status.allocatable.pods` less the pods it runs in that family. As libcalico-go `lib/ipam/ipam.go`
  (`prepareAffinityBlocksForHost`, `autoAssign`) does it, only the host's affine blocks in pools that select
  it are used and counted against the limit (`numBlocksOwned`): a pool that no longer selects the node gives
  it nothing (both series 0, showing a stranded node) and its blocks there do not count.
- `nodes{state="at_block_limit"}` is a node holding `maxBlocksPerHost` blocks (counted so) in some family,
  free addresses left in them or not; `in_deficit` one whose free addresses and claimable blocks in a family
  fall short of its max pods less its pods.
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
from ..audit.utilisation import NodeUsage, PoolUsage, selecting_pools

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
        *_node_families(state, result, pools),
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


@dataclass
class _Nodes:
    """What the per-node series need, worked out once: the pools selecting each existing node, and each
    node's affine blocks (count, free addresses) by pool."""

    usage: dict[str, NodeUsage]
    selected: dict[str, set[str]]  # node -> names of the workload pools selecting it
    held: dict[tuple[str, str], tuple[int, int]]  # (pool, node) -> its affine blocks there, free addresses

    @classmethod
    def of(cls, state: AuditState, result: AuditResult, pools: list[PoolUsage]) -> _Nodes:
        nodes = {n.name: n for n in result.usage.nodes if n.node is not None}
        selecting = selecting_pools(state.nodes, state.pools)
        held: dict[tuple[str, str], tuple[int, int]] = {}
        for usage in pools:
            for block in usage.blocks:
                if block.host in nodes:
                    count, free = held.get((usage.pool.name, block.host), (0, 0))
                    held[(usage.pool.name, block.host)] = (count + 1, free + block.unallocated)
        return cls(nodes, {n: {p.name for p in found} for n, found in selecting.items()}, held)

    def pairs(self, pools: list[PoolUsage]) -> Iterator[tuple[PoolUsage, NodeUsage]]:
        """Every (pool, existing node) where the pool selects the node or the node holds a block of it,
        in (pool, node) name order."""
        chosen: dict[str, set[str]] = {}
        for node, names in self.selected.items():
            for name in names:
                chosen.setdefault(name, set()).add(node)
        holders: dict[str, set[str]] = {}
        for pool, node in self.held:
            holders.setdefault(pool, set()).add(node)
        for usage in pools:
            name = usage.pool.name
            for node in sorted((chosen.get(name, set()) | holders.get(name, set())) & self.usage.keys()):
                yield usage, self.usage[node]

    def counted(self, node: NodeUsage, family: int, by_version: dict[str, int]) -> tuple[int, int]:
        """(blocks, free addresses) the node's limit counts in one family: its affine blocks in the pools
        that select it (autoAssign's numBlocksOwned)."""
        blocks = free = 0
        for pool in self.selected.get(node.name, ()):
            if by_version.get(pool) == family:
                count, left = self.held.get((pool, node.name), (0, 0))
                blocks, free = blocks + count, free + left
        return blocks, free


def _headroom(nodes: _Nodes, usage: PoolUsage, node: NodeUsage,
              by_version: dict[str, int]) -> tuple[int, int]:
    """(blocks, pods) the node can still get from this pool (see the module docstring)."""
    pool = usage.pool
    family = node.families.get(pool.version or 0)
    if pool.name not in nodes.selected.get(node.name, ()) or family is None:
        return 0, 0
    owned, _ = nodes.counted(node, pool.version or 0, by_version)
    blocks = min(max(0, node.max_blocks - owned), usage.blocks_free)
    _, free = nodes.held.get((pool.name, node.name), (0, 0))
    return blocks, max(0, min(free + blocks * pool.block_addresses, node.max_pods - family.pods))


def _states(nodes: _Nodes, by_version: dict[str, int]) -> dict[str, int]:
    counts = {"no_pool": 0, "at_block_limit": 0, "in_deficit": 0}
    for node in nodes.usage.values():
        served = [(v, f) for v, f in node.families.items() if f.pools]
        counts["no_pool"] += not served
        owned = {v: nodes.counted(node, v, by_version) for v, _ in served}
        counts["at_block_limit"] += any(blocks >= node.max_blocks for blocks, _ in owned.values())
        counts["in_deficit"] += any(
            owned[v][1] + max(0, node.max_blocks - owned[v][0]) * f.block_addresses < node.max_pods - f.pods
            for v, f in served)
    return counts


def _node_families(state: AuditState, result: AuditResult, pools: list[PoolUsage]) -> Iterator[Metric]:
    nodes = _Nodes.of(state, result, pools)
    by_version = {u.pool.name: u.pool.version or 0 for u in pools}
    block_rows, pod_rows = [], []
    for usage, node in nodes.pairs(pools):
        blocks, pods = _headroom(nodes, usage, node, by_version)
        block_rows.append(((usage.pool.name, node.name), blocks))
        pod_rows.append(((usage.pool.name, node.name), pods))
    yield _gauge("node_block_headroom", "Blocks the node may still claim from the pool: its room under "
                 "maxBlocksPerHost or the pool's free blocks, the smaller", ["pool", "node"], block_rows)
    yield _gauge("node_pod_headroom", "Pods the node can still start with an address from the pool, capped "
                 "by status.allocatable.pods less its pods", ["pool", "node"], pod_rows)
    yield _gauge("nodes", "Nodes no enabled pool selects, nodes holding maxBlocksPerHost blocks, nodes that "
                 "cannot reach their max pods within the block limit", ["state"],
                 [((s,), count) for s, count in _states(nodes, by_version).items()])


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
