"""Rules about which nodes the pools serve: stranded nodes, missing fallback, empty and undersized pools.

IPAM gives a pod on node N an address from an enabled pool whose nodeSelector matches N's labels and whose
allowedUses include Workload (calico-facts.md, "IPAM behaviour"); these rules ask that question for every
node at once through the view's node bitsets.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis import selector_of
from ..model import Finding, Node, Pool, family_name
from .base import Context, rule

SHOWN = 3  # how many examples a message lists before "and N more"


def _labels(node: Node, keys: set[str] | None = None) -> str:
    items = sorted(node.labels.items()) if keys is None else sorted(
        (k, v) for k, v in node.labels.items() if k in keys)
    text = ", ".join(f"{k}={v}" for k, v in items[:6])
    return (text + ", ...") if len(items) > 6 else (text or "no labels")


def _some(names: list[str]) -> str:
    head = ", ".join(names[:SHOWN])
    return head + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _selector_keys(pools: list[Pool]) -> set[str]:
    keys: set[str] = set()
    for pool in pools:
        selector = selector_of(pool)
        if selector is not None:
            keys |= set(selector.keys)
    return keys


@rule("node-unselected", "error", "A node that no enabled pool of an IP family in use selects",
      needs_nodes=True)
def node_unselected(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    For each IP family that has at least one enabled pool for workloads, finds the known nodes that no
    such pool's `nodeSelector` matches. Nodes come from `Node`/`NodeList` manifests or `--nodes`.

    ## Why is this bad?
    Pods scheduled on that node never get an address: they hang in ContainerCreating with an IPAM error.
    The Calico tutorial on topology pools makes this mistake: its pools select `rack == "0"` and
    `rack == "1"` while its nodes are labelled `rack=1` and `rack=2`.

    ## Example
    ```yaml
    # IPPool rack-0: nodeSelector rack == "0";  Node worker-2: labels rack=2
    ```

    ## Use instead
    Fix the selector or the label so that every node is selected, and keep an enabled `all()` pool as
    a fallback for nodes that match no topology pool.
    """
    nodes = ctx.nodes()
    if not nodes:
        return
    for version, pools in sorted(ctx.view.workload_pools.items()):
        unserved = ctx.view.unserved_bits(version)
        position = ctx.view.node_position
        stranded = [node for node in nodes if unserved >> position(node) & 1] if unserved else []
        if not stranded:
            continue
        keys = _selector_keys(pools)
        pool_text = _some([f"{p.name} ({p.node_selector or 'all()'})" for p in pools])
        for node in stranded:
            yield ctx.finding(
                f"{node.resource} ({_labels(node, keys or None)}) is selected by no enabled "
                f"{family_name(version)} pool, so its pods get no {family_name(version)} address; "
                f"pools: {pool_text}",
                node.resource, node.source,
                "fix the pool's nodeSelector or the node's labels, or add an all() fallback pool",
                subject=family_name(version))


@rule("fallback-missing", "warning",
      "Pools use node selectors but no enabled pool of the family selects every node")
def fallback_missing(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    When pools of an IP family use node selectors, checks that at least one enabled pool of that family
    selects every node: its `nodeSelector` is `all()`, empty or absent.

    ## Why is this bad?
    Topology pools cover the nodes that exist today. A new node that is not yet labelled (or carries a
    new rack or zone value) matches none of them and its pods get no address. Calico's tutorial advises
    to "assign at least one IP Pool to every node".

    ## Example
    ```yaml
    # rack-1: nodeSelector rack == "1";  rack-2: nodeSelector rack == "2";  nothing else
    ```

    ## Use instead
    Keep an enabled pool with `nodeSelector: all()` as a fallback (or turn this rule off in the policy file
    with `require-fallback: false` when strict topology is the point).
    """
    if not ctx.cluster_wide or not ctx.config.require_fallback:
        return
    for version, pools in sorted(ctx.view.workload_pools.items()):
        if ctx.view.fallback_pools(version):
            continue
        topology = [p for p in pools if selector_of(p) is not None]
        if not topology:
            continue
        first = min(topology, key=lambda p: p.source)
        yield ctx.finding(
            f"no enabled {family_name(version)} pool selects every node: a new or unlabelled node matches "
            f"none of {_some([f'{p.name} ({p.node_selector})' for p in topology])}",
            None, first.source,
            f"add an enabled {family_name(version)} pool with nodeSelector: all() as fallback",
            subject=family_name(version))


@rule("pool-selects-nothing", "warning", "An enabled pool that selects none of the known nodes",
      needs_nodes=True)
def pool_selects_nothing(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Finds enabled pools for workloads whose `nodeSelector` matches none of the known nodes, and shows the
    values that the selector's label keys do have on the nodes.

    ## Why is this bad?
    Usually a typo in the selector or in a node label (`rack == "0"` while nodes say `rack=1`): the pool
    meant for those nodes serves nobody, and they either fall back to another pool or get no address.

    ## Example
    ```yaml
    spec:
      nodeSelector: rack == "0"   # nodes are labelled rack=1 and rack=2
    ```

    ## Use instead
    ```yaml
    spec:
      nodeSelector: rack == "1"
    ```
    """
    if not ctx.cluster.nodes:
        return
    index = ctx.view.node_index
    for pool in ctx.pools():
        selector = selector_of(pool)
        if not pool.serves_workloads or selector is None or ctx.view.selected_bits(pool):
            continue
        seen = []
        for key in sorted(selector.keys):
            values = sorted(value for value, _ in index.values(key))
            seen.append(f"{key}: {_some([repr(v) for v in values])}" if values else f"{key}: on no node")
        found = f"; label values on nodes: {'; '.join(seen)}" if seen else ""
        yield ctx.finding(
            f"{pool.resource} (nodeSelector {pool.node_selector!r}) selects none of the "
            f"{len(ctx.cluster.nodes)} known nodes{found}", pool.resource, pool.source,
            "check the selector and the node labels for a typo")


@rule("pool-capacity", "warning",
      "A pool has fewer blocks than its nodes, or fewer addresses than their pods",
      needs_nodes=True)
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
    from .ipam import block_limit, blocks_for  # here, so that ipam's rules register after ours

    limit, strict, where = block_limit(ctx.cluster)
    groups = ctx.view.pods_groups(ctx.config.max_pods)  # kept by the view, not one pass over every node
    for pool in ctx.pools():
        if not pool.serves_workloads or pool.block_size is None or pool.network is None:
            continue
        bits = ctx.view.selected_bits(pool)
        nodes = bits.bit_count()
        if not nodes:
            continue
        blocks, size = pool.block_count, pool.block_addresses
        if strict:
            needed = sum((bits & group).bit_count() * blocks_for(pods, size, limit)
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
        demand = sum((bits & group).bit_count() * min(pods, limit * size) for pods, group in groups.items())
        addresses = pool.network.num_addresses
        if addresses < demand:
            yield ctx.finding(
                f"{pool.describe()} has {addresses:,} addresses for {nodes} nodes that can run {demand:,} "
                f"pods (max pods {ctx.config.max_pods} unless the node reports its own; at most {limit} "
                "blocks per node)", pool.resource,
                pool.source, "widen the cidr, or add pools for these nodes", subject="addresses")
