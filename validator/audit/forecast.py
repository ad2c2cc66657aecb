"""When pools and nodes run out, in blocks and addresses, and on what evidence.

Two bases, and the forecast always says which it used:

- `two-dumps` (`audit --since OLD`): the change between two states over the time between them. Net
  growth, churn included; the better basis.
- `timestamps` (one dump): blocks claimed (`affinityClaimTime`, Calico 3.32+) and addresses allocated
  (the allocation's `timestamp` attribute) within the window before the dump. Only what still exists
  can be seen: released blocks and addresses left no trace, so this counts survivors, which overstates
  net growth when pods churn, and cannot see shrinking at all.

"Days to exhaustion" is given only when there is a basis and the rate is positive.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .analysis import parse_time
from .model import AuditState
from .utilisation import NodeUsage, PoolUsage, Utilisation

SURVIVOR_NOTE = (
    "from one dump's affinityClaimTime and allocation timestamps: only blocks and addresses that "
    "still exist are seen, so the rates are biased towards survivors (they overstate net growth "
    "under churn and never show shrinking); compare two dumps with --since for net growth"
)
TWO_DUMPS_NOTE = "net change between the two dumps, divided by the time between them"
DAY = 86400.0


@dataclass
class Trend:
    name: str
    blocks_per_day: float | None
    addresses_per_day: float | None
    days_to_exhaustion: float | None  # blocks: the pool's free blocks, or the node's block limit
    days_to_address_exhaustion: float | None = None


@dataclass
class Forecast:
    basis: str  # "two-dumps", "timestamps", or "none"
    note: str
    window_days: float
    pools: list[Trend] = field(default_factory=list)
    nodes: list[Trend] = field(default_factory=list)


def _days(left: float, rate: float | None) -> float | None:
    return round(left / rate, 1) if rate is not None and rate > 0 else None


def _rate(delta: float, days: float) -> float:
    return round(delta / days, 3)


def from_two_states(old: Utilisation, new: Utilisation, old_at: datetime, new_at: datetime) -> Forecast:
    days = max((new_at - old_at).total_seconds() / DAY, 1e-9)
    if new_at <= old_at:
        return Forecast("none", "the --since dump is not older than the audited one", 0.0)
    old_pools = {u.pool.name: u for u in old.pools}
    old_nodes = {u.name: u for u in old.nodes}
    forecast = Forecast("two-dumps", TWO_DUMPS_NOTE, round(days, 3))
    for usage in new.pools:
        before = old_pools.get(usage.pool.name)
        if before is None:
            continue
        blocks = _rate(usage.blocks_allocated - before.blocks_allocated, days)
        addresses = _rate(usage.in_use - before.in_use, days)
        forecast.pools.append(
            Trend(
                usage.pool.name,
                blocks,
                addresses,
                _days(usage.blocks_free, blocks),
                _days(usage.free, addresses),
            )
        )
    for node in new.nodes:
        previous = old_nodes.get(node.name)
        if previous is None or node.node is None:
            continue
        blocks = _rate(node.blocks - previous.blocks, days)
        addresses = _rate(node.addresses_in_use - previous.addresses_in_use, days)
        forecast.nodes.append(Trend(node.name, blocks, addresses, _node_days(node, blocks)))
    return forecast


def _node_days(node: NodeUsage, blocks_per_day: float | None) -> float | None:
    left = min((node.max_blocks - f.blocks for f in node.families.values() if f.pools), default=None)
    return _days(left, blocks_per_day) if left is not None else None


def _window_test(start: datetime, end: datetime) -> Callable[[str], bool | None]:
    """Whether an allocation timestamp lies in [start, end] (None: no usable timestamp). The CNI writes
    them in UTC as "2006-01-02 15:04:05.999999999 +0000 UTC", which sorts as text: 555,000 of them are
    compared as strings, and only other shapes are parsed."""
    low, high = (t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") for t in (start, end))

    def test(text: str) -> bool | None:
        if len(text) > 19 and text.endswith(" +0000 UTC") and text[10] == " ":
            return low <= text[:19] <= high
        stamp = parse_time(text)
        return None if stamp is None else start <= stamp <= end

    return test


def from_timestamps(state: AuditState, usage: Utilisation, now: datetime, window: timedelta) -> Forecast:
    start = now - window
    recent = _window_test(start, now)
    days = window.total_seconds() / DAY
    pool_blocks: Counter[str] = Counter()
    pool_addresses: Counter[str] = Counter()
    node_blocks: Counter[str] = Counter()
    node_addresses: Counter[str] = Counter()
    seen_any = False
    for block in state.blocks:
        pool = usage.pool_for(block)
        claimed = parse_time(block.claim_time)
        if claimed is not None:
            seen_any = True
            if start <= claimed <= now:
                if pool is not None:
                    pool_blocks[pool.pool.name] += 1
                if block.host:
                    node_blocks[block.host] += 1
        for allocation in block.allocations:
            within = recent(allocation.timestamp)
            if within is None:
                continue
            seen_any = True
            if within:
                if pool is not None:
                    pool_addresses[pool.pool.name] += 1
                if allocation.node:
                    node_addresses[allocation.node] += 1
    if not seen_any:
        return Forecast(
            "none",
            "no affinityClaimTime or allocation timestamps to forecast from; audit "
            "with --since OLD for a two-dump forecast",
            round(days, 3),
        )
    forecast = Forecast("timestamps", SURVIVOR_NOTE, round(days, 3))
    forecast.pools = list(_pool_trends(usage.pools, pool_blocks, pool_addresses, days))
    for node in usage.nodes:
        if node.node is None or not (node_blocks[node.name] or node_addresses[node.name]):
            continue
        blocks = _rate(node_blocks[node.name], days)
        forecast.nodes.append(
            Trend(node.name, blocks, _rate(node_addresses[node.name], days), _node_days(node, blocks))
        )
    return forecast


def _pool_trends(
    pools: Iterable[PoolUsage], blocks: Counter[str], addresses: Counter[str], days: float
) -> Iterable[Trend]:
    for usage in pools:
        name = usage.pool.name
        block_rate, address_rate = _rate(blocks[name], days), _rate(addresses[name], days)
        yield Trend(
            name,
            block_rate,
            address_rate,
            _days(usage.blocks_free, block_rate),
            _days(usage.free, address_rate),
        )
