"""The `node-block-limit` rule: nodes whose block limit caps their pods.

How Calico IPAM hands out addresses was read from projectcalico/calico master 87c15906,
`libcalico-go/lib/ipam/ipam.go` (`autoAssign`, `determinePools`) and `ipam_block_reader_writer.go`
(`findUsableBlock`), identical in v3.26.0 to v3.32.0 for what matters here:

- A node may own at most `maxBlocksPerHost` blocks per IP family, counted over the pools it may use;
  0 (the stored default, and what Calico assumes when there is no IPAMConfiguration) means 20.
- At that limit a node that needs another block fails with "cannot allocate new block due to per host
  block limit". It does not borrow from other nodes' blocks then, whatever `strictAffinity` says;
  borrowing only happens when no free block is left in its pools, and never with `strictAffinity: true`.
- New blocks are sought pool by pool in name order; a later pool is reached only when the earlier ones
  have no free block.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from functools import partial

from ..analysis import selector_of
from ..model import Finding, Pool, family_name
from .base import Context, rule
from .common import block_limit


def _candidates(ctx: Context, version: int) -> Sequence[Pool]:
    """Pools IPAM may pick automatically for any pod of this family, in the name order it tries them.

    Pools with a namespaceSelector serve only some namespaces and are left out (requests from other
    namespaces neither use nor count their blocks); so are pools the cluster marks Allocatable=False. The
    view keeps the list: the webhook corrects it for one change, never refilters.
    """
    return ctx.view.pools_where(CANDIDATES[version], QUALIFIES[version], _name_of)


def _name_of(pool: Pool) -> str:
    return pool.name


def _is_candidate(pool: Pool, version: int) -> bool:
    return (pool.serves_workloads and pool.version == version and pool.automatic
            and pool.unallocatable is None and not pool.namespace_selector and pool.block_count > 0)


# one key and one `qualifies` per family, made once: a view remembers the list and its least by key
CANDIDATES = {version: f"node-block-limit/{version}" for version in (4, 6)}
QUALIFIES: dict[int, Callable[[Pool], bool]] = {
    version: partial(_is_candidate, version=version) for version in (4, 6)}


def node_capacity(pools: list[Pool], limit: int) -> tuple[int, list[tuple[Pool, int]]] | None:
    """Addresses a node can reach within its block limit, taking blocks pool by pool in name order, and
    the blocks taken from each pool (the best case: no other node has claimed any of them); None when
    the pools run out of blocks before the limit is reached (then the pools are too small, which is
    pool-capacity's finding, and without strictAffinity the node borrows)."""
    remaining, addresses, taken = limit, 0, []
    for pool in pools:
        if remaining == 0:
            break
        count = min(remaining, pool.block_count)
        taken.append((pool, count))
        addresses += count * pool.block_addresses
        remaining -= count
    return (addresses, taken) if remaining == 0 else None


def _breakdown(taken: list[tuple[Pool, int]]) -> str:
    return ", ".join(f"{count} x /{pool.block_size} from {pool.name}" for pool, count in taken)


def _suggestion(pods: int, limit: int, version: int) -> str:
    bits = math.ceil(math.log2(max(1, math.ceil(pods / limit))))
    size = (32 if version == 4 else 128) - bits
    return (f"use blockSize {size} or smaller (2^{bits} addresses per block), or raise maxBlocksPerHost in "
            "the IPAMConfiguration named default")


@rule("node-block-limit", "warning", "A node cannot get addresses for all its pods within its block limit",
      reads=("pools", "nodes"))
def node_block_limit(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Works out how many addresses of each IP family a node can hold: Calico lets a node own at most
    `maxBlocksPerHost` blocks (IPAMConfiguration `default`; absent or `0` means 20), and takes new blocks
    from the node's pools in name order, a later pool only once the earlier ones have no free block. So
    a node's ceiling is the sum, over its pools in name order, of `blocks taken x 2^(32 - blockSize)`
    (IPv4; `2^(128 - blockSize)` for IPv6) until the limit is used up. When the limit is used up and
    that is below the pods the node can run (`status.allocatable.pods`, else `--max-pods`, default
    110), the node is reported; pools that run out of blocks first are `pool-capacity`'s concern. Pools
    with a namespaceSelector, Manual pools and pools the cluster marks `Allocatable=False` are not
    counted. Without known nodes, each pool is checked for a node served by it and by the `all()` pools.

    ## Why is this bad?
    The next pod fails with "cannot allocate new block due to per host block limit" (calico issue
    9462) and stays in ContainerCreating. At the limit Calico does not borrow from other nodes' blocks,
    whatever `strictAffinity` says. `blockSize: 32` with the default limit gives 20 pods per node;
    `blockSize: 30` gives 80.

    ## Example
    ```yaml
    spec:
      cidr: 10.244.0.0/16
      blockSize: 32          # 20 blocks x 1 address = 20 pods per node
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 10.244.0.0/16
      blockSize: 26          # 20 blocks x 64 addresses = 1280
    ```
    """
    limit, _, where = block_limit(ctx.cluster)
    every = ctx.focus is None or (ctx.cluster.ipam_settings is not None
                                  and ctx.cluster.ipam_settings.resource in ctx.focus.objects)
    for version in sorted(ctx.view.families_in_use()):  # candidates serve workloads: their family is in use
        if _never_short(ctx, version, limit):  # (asked first: it needs no list of the candidates)
            continue
        pools = _candidates(ctx, version)
        if not pools:
            continue
        if ctx.cluster.nodes_known:
            yield from _nodes_short(ctx, pools, version, limit, where, every)
        else:
            yield from _pools_short(ctx, pools, version, limit, where, every)


def _never_short(ctx: Context, version: int, limit: int) -> bool:
    """True when no node can be short of addresses, so that nodes need not be grouped at all.

    A node that reaches its limit owns `limit` blocks of its pools, each holding at least as many addresses
    as the smallest block of any candidate pool; a node that does not reach it is pool-capacity's concern
    (`node_capacity` gives None). So when `limit` of the smallest blocks hold the most pods any node can
    run, no node is reported: the common case (20 blocks of /26 hold 1,280 addresses), decided in the size
    of the candidate list's change, not the nodes'.
    """
    smallest = ctx.view.least(CANDIDATES[version], QUALIFIES[version], _block_addresses)
    most = max((*ctx.view.pods_groups(ctx.config.max_pods), ctx.config.max_pods))
    return smallest is not None and smallest * limit >= most


def _block_addresses(pool: Pool) -> int:
    return pool.block_addresses


def _nodes_short(ctx: Context, pools: Sequence[Pool], version: int, limit: int, where: str,
                 every: bool) -> Iterator[Finding]:
    """Nodes are grouped by the set of pools that select them, so each distinct set is worked out once."""
    view, nodes = ctx.view, ctx.cluster.nodes
    scope = view.node_index.all_bits
    if not every and ctx.focus is not None:
        # Only the focus's nodes can gain or lose a finding, and the nodes of the focus's pools that are
        # being written (all focus pools when the focus does not say what is written): a node label
        # change keeps the pools that select the node in focus, but their other nodes are unchanged.
        scope = 0
        for node in ctx.nodes():
            scope |= 1 << view.node_position(node)
        written = ctx.focus.objects
        for pool in ctx.pools():
            if not written or pool.resource in written:
                scope |= view.selected_bits(pool)
    groups = view.pool_groups(pools, scope)  # costs the nodes in scope, not pools x groups
    family = family_name(version)
    for positions, members in groups:
        if not members:
            continue  # served by no pool: node-unselected
        reached = node_capacity(sorted(members, key=lambda p: p.name), limit)  # IPAM's order: by name
        if reached is None:
            continue
        capacity, taken = reached
        for position in positions:
            node = nodes[position]
            pods = node.max_pods or ctx.config.max_pods
            if capacity >= pods:
                continue
            yield ctx.finding(
                f"{node.resource} can hold at most {capacity} {family} addresses, fewer than its {pods} "
                f"pods: a node owns at most {limit} blocks ({where}) and its pools give {_breakdown(taken)}; "
                "further pods fail with 'cannot allocate new block due to per host block limit'",
                node.resource, node.source, _suggestion(pods, limit, version),
                related=[pool for pool, _ in taken], subject=family)


def _pools_short(ctx: Context, pools: Sequence[Pool], version: int, limit: int, where: str,
                 every: bool) -> Iterator[Finding]:
    """Each pool with the all() pools, as a node it serves sees them: the all() pools are summed once
    (prefix sums in name order), so a pool costs a bisection, not a sort and walk of every all() pool."""
    wanted = None if every else {id(p) for p in ctx.pools()}
    fallback = FallbackOrder([p for p in pools if (chosen := selector_of(p)) is not None and chosen.is_all])
    pods = ctx.config.max_pods
    family = family_name(version)
    for pool in pools:
        if wanted is not None and id(pool) not in wanted:
            continue
        capacity = fallback.capacity_with(pool, limit)
        if capacity is None or capacity >= pods:
            continue
        taken = fallback.taken_with(pool, limit)
        yield ctx.finding(
            f"{pool.describe()}: a node it serves can hold at most {capacity} {family} addresses, fewer "
            f"than {pods} pods: a node owns at most {limit} blocks ({where}) and gets {_breakdown(taken)}; "
            "further pods fail with 'cannot allocate new block due to per host block limit'",
            pool.resource, pool.source, _suggestion(pods, limit, version), subject=family)


class FallbackOrder:
    """The all() pools in IPAM's name order, with running totals of their blocks and addresses, to answer
    `node_capacity(sorted([*fallback, pool]))` for many pools without sorting or walking per pool."""

    def __init__(self, fallback: list[Pool]) -> None:
        self.pools = fallback  # already in name order (ties in cluster order): candidate order
        self.names = [p.name for p in fallback]
        self.position = {id(p): i for i, p in enumerate(fallback)}
        self.blocks, self.addresses = [0], [0]
        for p in fallback:
            self.blocks.append(self.blocks[-1] + p.block_count)
            self.addresses.append(self.addresses[-1] + p.block_count * p.block_addresses)

    def capacity_with(self, pool: Pool, limit: int) -> int | None:
        """node_capacity's addresses for the all() pools and `pool` in name order, when `pool` is among the
        pools the node takes blocks from before its limit; None otherwise (or when the pools run out)."""
        span = self._span(pool, limit)
        return span[0] if span is not None else None

    def taken_with(self, pool: Pool, limit: int) -> list[tuple[Pool, int]]:
        """The (pool, blocks) behind that capacity, for a finding's message: as many pools as are taken."""
        span = self._span(pool, limit)
        assert span is not None
        _, k, extra, end = span
        reached = node_capacity([*self.pools[:k], *([extra] if extra else []), *self.pools[k:end]], limit)
        assert reached is not None
        return reached[1]

    def _span(self, pool: Pool, limit: int) -> tuple[int, int, Pool | None, int] | None:
        own = self.position.get(id(pool))
        k, extra = (own, None) if own is not None else (bisect_right(self.names, pool.name), pool)
        before = self.blocks[k]
        if before >= limit:
            return None  # the limit is used up before IPAM reaches the pool
        remaining, addresses, end = limit - before, self.addresses[k], k
        if extra is not None:
            count = min(remaining, extra.block_count)
            remaining -= count
            addresses += count * extra.block_addresses
        if remaining:
            end = bisect_left(self.blocks, before + remaining, lo=k + 1)
            if end >= len(self.blocks):
                return None  # the pools run out of blocks first: pool-capacity's concern
            partial = remaining - (self.blocks[end - 1] - before)
            addresses += self.addresses[end - 1] - self.addresses[k]
            addresses += partial * self.pools[end - 1].block_addresses
        return addresses, k, extra, end
