"""Utilisation in Calico's own vocabulary: blocks as well as addresses, per pool and per node.

Exhaustion is about blocks (libcalico-go `lib/ipam/ipam.go` autoAssign): a node first fills its affine
blocks, then claims a free block of a pool that selects it, and at `maxBlocksPerHost` (0 means 20) it fails
with "cannot allocate new block due to per host block limit" without borrowing. So each pool counts its
blocks total / allocated / free beside its addresses, and each node its blocks against that limit.

Which of a node's blocks count, and which it may use, is `prepareAffinityBlocksForHost` in the same file
(read at projectcalico/calico master 87c15906): it takes the pools `determinePools` picks for the host
(enabled, Automatic, nodeSelector matching) and `filterPoolsByUse` keeps for Workload, lists the host's
affine blocks of the family, and keeps those whose base address one of these pools contains
(`filterBlocksByPools`). `autoAssign` assigns only from those and sets `numBlocksOwned := len(affBlocks)`
against the limit. So a block in a pool that no longer selects the node neither counts nor serves it (a
stranded node gets nothing new there), and a block in another family's or a non-Workload pool does not
count. This module is the one place that works it out: the audit's JSON and text, the `node-headroom`
rule and the exporter's series all read `NodeUsage`.

Counts follow `calicoctl ipam show` (calicoctl/commands/ipam/show.go): a block's addresses in use are its
ordinals not in `unallocated` (cooling and Windows-reserved addresses included); reserved addresses are
the IPReservations' addresses inside the pool (PR #13331), and free is neither in use nor reserved. A block
belongs to the pool that contains it, preferring a pool of its own block size, then the narrowest, then the
first by name (libcalico-go `lib/ipam/accounting/pool.go`, newer than v3.32); a block no pool contains is
counted under "no pool". Borrowed addresses are those whose allocation `node` is not the block's affine
node (unaffine blocks included), as `calicoctl ipam show --show-borrowed` lists them.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..analysis import selector_of
from ..model import DEFAULT_MAX_BLOCKS_PER_HOST, IPNet, Node, Pool
from .model import AuditPolicy, AuditState, Block


@dataclass
class PoolUsage:
    pool: Pool
    blocks: list[Block] = field(default_factory=list)
    blocks_total: int = 0
    blocks_allocated: int = 0
    blocks_free: int = 0
    addresses_total: int = 0
    in_use: int = 0
    reserved: int = 0
    free: int = 0
    borrowed: int = 0
    cooling: int = 0

    @property
    def allocated_percent(self) -> float:
        return 100.0 * self.blocks_allocated / self.blocks_total if self.blocks_total else 0.0


@dataclass
class FamilyUsage:
    """One node's standing in one IP family: blocks held against its limit and what they can still take."""

    family: int
    blocks: int = 0  # affine blocks counted against its limit: those in pools that select it
    free_in_blocks: int = 0  # unallocated addresses in those blocks
    held: int = 0  # all its affine blocks of the family, counted or not
    block_addresses: int = 0  # addresses of a new block from the first pool that selects it
    pods: int = 0  # pod addresses it holds (live count)
    pools: list[str] = field(default_factory=list)  # workload pools that select it, in the order IPAM tries

    def capacity(self, max_blocks: int) -> int:
        """Pod addresses it can still get within its block limit (borrowing, which the limit forbids,
        aside)."""
        return self.free_in_blocks + max(0, max_blocks - self.blocks) * self.block_addresses


@dataclass(frozen=True)
class PoolHeadroom:
    """One (pool, node) pair that matters: the pool selects the node, or the node holds a block of it."""

    pool: str
    selects: bool
    blocks: int  # the node's blocks in this pool
    block_headroom: int  # blocks it may still claim from it: room under its limit, and the pool's free ones
    pod_headroom: int  # pods it can still start with an address from it, capped by its max pods


@dataclass
class NodeUsage:
    name: str
    node: Node | None  # None: blocks or allocations name a node that does not exist
    max_blocks: int
    max_pods: int
    families: dict[int, FamilyUsage] = field(default_factory=dict)
    addresses_in_use: int = 0
    borrowed: int = 0
    selected: list[PoolUsage] = field(default_factory=list)  # workload pools that select it
    held: dict[int, tuple[PoolUsage, int]] = field(default_factory=dict)  # id(pool usage) -> its blocks
    usable: dict[int, int] = field(default_factory=dict)  # id(selecting pool usage) -> free addresses

    def pool_headroom(self) -> list[PoolHeadroom]:
        """Per pool that selects it or of which it holds a block, in pool name order (what an exporter
        publishes per (pool, node) pair, instead of a series for every node under every pool). A pool that
        does not select it gives it nothing, whatever its blocks there hold (prepareAffinityBlocksForHost)."""
        pairs = {id(u): u for u in self.selected} | {key: entry[0] for key, entry in self.held.items()}
        selected = {id(u) for u in self.selected}
        found = []
        for key, usage in sorted(pairs.items(), key=lambda item: item[1].pool.name):
            _, blocks = self.held.get(key, (usage, 0))
            family = self.families.get(usage.pool.version or 4)
            claimable = pods = 0
            if key in selected and family is not None:
                claimable = min(max(0, self.max_blocks - family.blocks), usage.blocks_free)
                addresses = self.usable.get(key, 0) + claimable * usage.pool.block_addresses
                pods = min(max(0, self.max_pods - family.pods), addresses)
            found.append(PoolHeadroom(usage.pool.name, key in selected, blocks, claimable, pods))
        return found

    @property
    def blocks(self) -> int:
        """All its affine blocks, counted against its limit or not."""
        return sum(f.held for f in self.families.values())

    @property
    def pod_headroom(self) -> int:
        """More pods it can start: its max pods less those it runs, within its block limit in every family
        its pools serve; 0 when no pool serves it."""
        served = [f for f in self.families.values() if f.pools]
        if not served:
            return 0
        return min(max(0, min(self.max_pods - f.pods, f.capacity(self.max_blocks))) for f in served)

    @property
    def at_block_limit(self) -> bool:
        """It may claim no new block in some family (autoAssign's `numBlocksOwned >= maxNumBlocks`), free
        addresses left in its blocks or not."""
        return any(f.blocks >= self.max_blocks for f in self.families.values())

    def short_families(self) -> list[FamilyUsage]:
        """Families in which the block limit keeps it from reaching its max pods."""
        return [
            f
            for f in self.families.values()
            if f.pools and f.capacity(self.max_blocks) < self.max_pods - f.pods
        ]


@dataclass
class Utilisation:
    pools: list[PoolUsage]
    nodes: list[NodeUsage]
    no_pool: list[Block]
    pool_of: dict[int, PoolUsage]  # id(block) -> its pool
    max_blocks: int

    def pool_for(self, block: Block) -> PoolUsage | None:
        return self.pool_of.get(id(block))


def max_blocks_per_host(state: AuditState) -> int:
    return state.ipam.max_blocks_per_host if state.ipam is not None else DEFAULT_MAX_BLOCKS_PER_HOST


def attribute_blocks(pools: list[Pool], blocks: Iterable[Block]) -> tuple[dict[int, Pool], list[Block]]:
    """Each block's pool (by id(block)), and the blocks no pool contains."""
    index: dict[tuple[int, int], dict[int, list[Pool]]] = defaultdict(lambda: defaultdict(list))
    for pool in sorted(pools, key=lambda p: p.name):
        if pool.network is not None:
            net = pool.network
            index[(net.version, net.prefixlen)][int(net.network_address)].append(pool)
    prefixes = {v: sorted((p for (fam, p) in index if fam == v), reverse=True) for v in (4, 6)}
    owner: dict[int, Pool] = {}
    orphans: list[Block] = []
    for block in blocks:
        net = block.network
        bits, start = net.max_prefixlen, int(net.network_address)
        found: list[Pool] = []
        for prefix in prefixes[net.version]:  # narrowest first
            if prefix <= net.prefixlen:
                found.extend(
                    index[(net.version, prefix)].get(start >> (bits - prefix) << (bits - prefix), ())
                )
        if not found:
            orphans.append(block)
            continue
        same_size = [p for p in found if p.block_size == net.prefixlen]
        owner[id(block)] = (same_size or found)[0]
    return owner, orphans


def utilisation(state: AuditState, policy: AuditPolicy) -> Utilisation:
    owner, orphans = attribute_blocks(state.pools, state.blocks)
    usages = {id(p): PoolUsage(p) for p in state.pools}
    pool_of: dict[int, PoolUsage] = {}
    for block in state.blocks:
        pool = owner.get(id(block))
        if pool is not None:
            usages[id(pool)].blocks.append(block)
            pool_of[id(block)] = usages[id(pool)]
    for usage in usages.values():
        _count_pool(usage, state.reservations)
    limit = max_blocks_per_host(state)
    nodes = _nodes(state, policy, usages, pool_of, limit)
    ordered = sorted(usages.values(), key=lambda u: u.pool.name)
    return Utilisation(ordered, nodes, orphans, pool_of, limit)


def _count_pool(usage: PoolUsage, reservations: Iterable) -> None:
    pool = usage.pool
    usage.blocks_total = pool.block_count
    usage.addresses_total = pool.network.num_addresses if pool.network is not None else 0
    slots: set[int] = set()
    size = pool.block_size
    for block in usage.blocks:
        usage.in_use += block.in_use
        usage.cooling += sum(1 for a in block.allocations if a.cooling)
        host = block.host
        usage.borrowed += sum(1 for a in block.allocations if a.node and a.node != host)
        if size is not None and pool.network is not None:
            slots.update(_slots(block.network, pool.network, size))
    usage.blocks_allocated = len(slots) if size is not None else len(usage.blocks)
    usage.blocks_free = max(0, usage.blocks_total - usage.blocks_allocated)
    reserved = _reserved_networks(pool, reservations)
    usage.reserved = sum(n.num_addresses for n in reserved)
    reserved_in_use = _in_use_within(usage.blocks, reserved)
    usage.free = max(0, usage.addresses_total - usage.in_use - usage.reserved + reserved_in_use)


def _slots(block: IPNet, pool: IPNet, size: int) -> range:
    """The pool's block-sized slots a block covers (one, or several for a block larger than the pool's)."""
    bits = pool.max_prefixlen
    offset = int(block.network_address) - int(pool.network_address)
    if block.prefixlen >= size:
        first = offset >> (bits - size)
        return range(first, first + 1)
    first = offset >> (bits - size)
    return range(first, first + (1 << (size - block.prefixlen)))


def _reserved_networks(pool: Pool, reservations: Iterable) -> list[IPNet]:
    if pool.network is None:
        return []
    clipped: list[IPNet] = []
    for reservation in reservations:
        for net in reservation.networks:
            if net.version != pool.network.version or not net.overlaps(pool.network):
                continue
            clipped.append(net if net.subnet_of(pool.network) else pool.network)  # type: ignore[arg-type]
    return list(ipaddress.collapse_addresses(clipped))  # type: ignore[arg-type,type-var]


def _in_use_within(blocks: list[Block], networks: list[IPNet]) -> int:
    count = 0
    for net in networks:
        for block in blocks:
            if block.network.overlaps(net):  # type: ignore[arg-type,type-var]
                count += sum(1 for a in block.allocations if block.address(a.ordinal) in net)
    return count


def selecting_pools(nodes: list[Node], pools: list[Pool]) -> dict[str, list[Pool]]:
    """Workload pools selecting each node (by name), evaluated once per distinct label set."""
    workload = sorted((p for p in pools if p.serves_workloads), key=lambda p: p.name)
    selectors = [(p, selector_of(p)) for p in workload]
    by_labels: dict[frozenset, list[Pool]] = {}
    found: dict[str, list[Pool]] = {}
    for node in nodes:
        key = frozenset(node.labels.items())
        if key not in by_labels:
            by_labels[key] = [p for p, s in selectors if s is not None and s.matches(node.labels)]
        found[node.name] = by_labels[key]
    return found


def _nodes(
    state: AuditState,
    policy: AuditPolicy,
    pool_usage: dict[int, PoolUsage],
    pool_of: dict[int, PoolUsage],
    limit: int,
) -> list[NodeUsage]:
    selected = selecting_pools(state.nodes, state.pools)
    usages: dict[str, NodeUsage] = {}
    for node in state.nodes:
        usage = usages[node.name] = NodeUsage(node.name, node, limit, node.max_pods or policy.max_pods)
        usage.selected = [pool_usage[id(p)] for p in selected[node.name]]
        for family in (4, 6):
            family_pools = [p for p in selected[node.name] if p.version == family]
            if family_pools:
                pool = next((p for p in family_pools if pool_usage[id(p)].blocks_free), family_pools[0])
                usage.families[family] = FamilyUsage(
                    family, block_addresses=pool.block_addresses, pools=[p.name for p in family_pools]
                )

    def node_usage(name: str) -> NodeUsage:
        if name not in usages:
            usages[name] = NodeUsage(name, None, limit, policy.max_pods)
        return usages[name]

    for block in state.blocks:
        version = block.network.version
        if block.host:
            owner = node_usage(block.host)
            _count_affine_block(owner, block, owner.families.setdefault(version, FamilyUsage(version)))
            in_pool = pool_of.get(id(block))
            if in_pool is not None:
                _, blocks = owner.held.get(id(in_pool), (in_pool, 0))
                owner.held[id(in_pool)] = (in_pool, blocks + 1)
        for allocation in block.allocations:
            if not allocation.node:
                continue
            holder = node_usage(allocation.node)
            holder.addresses_in_use += 1
            if allocation.node != block.host:
                holder.borrowed += 1
            if allocation.is_pod:
                holder.families.setdefault(version, FamilyUsage(version)).pods += 1
    return sorted(usages.values(), key=lambda u: u.name)


def _count_affine_block(owner: NodeUsage, block: Block, family: FamilyUsage) -> None:
    """Count one of the node's affine blocks: against its limit, and as free addresses of the first
    selecting pool (name order) that contains the block's base address, only if such a pool exists
    (libcalico-go lib/ipam/ipam.go `filterBlocksByPools` over the pools that select the host)."""
    family.held += 1
    base = block.network.network_address
    for usage in owner.selected:
        net = usage.pool.network
        if net is not None and net.version == base.version and base in net:
            family.blocks += 1
            family.free_in_blocks += block.unallocated
            owner.usable[id(usage)] = owner.usable.get(id(usage), 0) + block.unallocated
            return
