"""The `pool-capacity` rule: pools too small for the nodes they select.

The block arithmetic (`block_limit`, `blocks_for`) is shared with node-block-limit in `common.py`; how
Calico IPAM claims blocks is written down in node_block_limit.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding
from .base import Context, rule
from .common import block_limit, blocks_for


@rule("pool-capacity", "warning",
      "A pool has fewer blocks than its nodes, or fewer addresses than their pods",
      needs_nodes=True, reads=("pools", "nodes"))
def pool_capacity(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    For each enabled workload pool, counts the known nodes it selects and the pods each can run
    (`status.allocatable.pods` of the node when the dump has it, else `--max-pods`, default 110), and
    compares them with the pool, taking the IPAMConfiguration named `default` into account
    (`maxBlocksPerHost`, absent or 0 meaning 20; `strictAffinity`, default false):

    - with `strictAffinity: true` a node can only use addresses of blocks it owns, so each node needs
      `ceil(pods / 2^(32 - blockSize))` blocks (IPv6: `2^(128 - blockSize)`), at most `maxBlocksPerHost`;
      their sum must not exceed the pool's `2^(blockSize - prefix)` blocks;
    - otherwise the pool's blocks are compared with the number of nodes (each node that uses a pool
      claims at least one block of it), and the pool's addresses with the pods the nodes can place in
      it, each node counting at most `maxBlocksPerHost x 2^(32 - blockSize)` (a node that reaches its
      block limit gets no more, see `node-block-limit`).

    ## Why is this bad?
    Without strict affinity, nodes that find no free block borrow addresses from other nodes' blocks,
    or fall back to another pool, which breaks per-rack route aggregation; with `strictAffinity`, or
    when the pool runs out of addresses, their pods get none ("No more free affine blocks and strict
    affinity enabled").

    ## Example
    ```yaml
    spec:
      cidr: 10.0.1.0/26    # one /26 block, 64 addresses
      nodeSelector: rack == "1"   # three nodes, 330 pods at maxPods 110
    ```

    ## Use instead
    Size the pool for its nodes: here a `/23` (8 blocks, 512 addresses), or smaller blocks.
    """
    if not ctx.cluster.nodes:
        return
    limit, strict, where = block_limit(ctx.cluster)
    groups = ctx.view.pods_groups(ctx.config.max_pods)  # kept by the view, not one pass over every node
    everyone = ctx.view.node_index.all_bits
    for pool in ctx.pools():
        if not pool.serves_workloads or pool.block_size is None or pool.network is None:
            continue
        bits = ctx.view.selected_bits(pool)
        nodes = bits.bit_count()
        if not nodes:
            continue
        blocks, size = pool.block_count, pool.block_addresses
        if strict:
            needed = sum(_count(bits, group, nodes, everyone) * blocks_for(pods, size, limit)
                         for pods, group in groups.items())
            if 0 < blocks < needed:
                yield ctx.finding(
                    f"{pool.describe()} has {blocks} /{pool.block_size} block{'s' * (blocks != 1)}, but "
                    f"with strictAffinity the {nodes} nodes it selects cannot borrow and need {needed} for "
                    f"their pods (at most {limit} per node: {where})", pool.resource, pool.source,
                    "widen the cidr, or add pools for these nodes", subject="blocks")
            continue
        if 0 < blocks < nodes:
            yield ctx.finding(
                f"{pool.describe()} has {blocks} /{pool.block_size} block{'s' * (blocks != 1)} for the "
                f"{nodes} nodes it selects: {nodes - blocks} of them get no block of it and borrow addresses "
                "from other nodes' blocks", pool.resource,
                pool.source, "widen the cidr or use a longer blockSize", subject="blocks")
        demand = sum(_count(bits, group, nodes, everyone) * min(pods, limit * size)
                     for pods, group in groups.items())
        addresses = 1 << (pool.network.max_prefixlen - pool.network.prefixlen)  # num_addresses, cheaper
        if addresses < demand:
            yield ctx.finding(
                f"{pool.describe()} has {addresses:,} addresses for {nodes} nodes that can run {demand:,} "
                f"pods (max pods {ctx.config.max_pods} unless the node reports its own; at most {limit} "
                "blocks per node)", pool.resource,
                pool.source, "widen the cidr, or add pools for these nodes", subject="addresses")


def _count(bits: int, group: int, nodes: int, everyone: int) -> int:
    """How many of `bits` (which has `nodes` members) are in `group`: without an AND of node-wide ints
    when the group is every node (all nodes run the same pods, the usual case)."""
    return nodes if group == everyone else (bits & group).bit_count()
