"""The `node-unselected` rule: nodes that no enabled pool of a family selects.

IPAM gives a pod on node N an address from an enabled pool whose nodeSelector matches N's labels and
whose allowedUses include Workload (calico-facts.md, "IPAM behaviour"); the rule asks that question
for every node at once through the view's node bitsets.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding, Node, family_name
from ..nodeindex import SPARSE_MEMBERS
from .base import Context, rule
from .common import labels_text, selector_keys, some_of


@rule("node-unselected", "error", "A node that no enabled pool of an IP family in use selects",
      needs_nodes=True, reads=("pools", "nodes"))
def node_unselected(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    For each IP family in use, finds the known nodes that no enabled pool of it for workloads selects.
    A family is in use when a pool of it for workloads exists, enabled or not (a disabled or Manual
    pool leaves its family's nodes without a pool); in the webhook, also when it was before the change,
    so that deleting or disabling the last pool of a family is judged. Nodes come from `Node`/`NodeList`
    manifests or `--nodes`.

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
    for version in sorted(ctx.view.families_in_use()):
        if not ctx.view.unserved_bits(version):
            continue  # every node is served: no node need be looked up (the usual case)
        stranded = _unserved_nodes(ctx, ctx.nodes(), version)
        if not stranded:
            continue
        pools = ctx.view.workload_pools.get(version, [])
        keys = selector_keys(pools)
        pool_text = some_of([f"{p.name} ({p.node_selector or 'all()'})" for p in pools]) or "none"
        for node in stranded:
            yield ctx.finding(
                f"{node.resource} ({labels_text(node, keys or None)}) is selected by no enabled "
                f"{family_name(version)} pool, so its pods get no {family_name(version)} address; "
                f"pools: {pool_text}",
                node.resource, node.source,
                "fix the pool's nodeSelector or the node's labels, or add an all() fallback pool",
                subject=family_name(version))


def _unserved_nodes(ctx: Context, nodes: list[Node], version: int) -> list[Node]:
    """The given nodes that no pool of the family serves, in their order: from the set's members (no shift
    of a node-wide int per node)."""
    unserved = ctx.view.unserved_bits(version)
    if not unserved:
        return []
    position = ctx.view.node_position
    if ctx.focus is None:
        return ctx.view.members(unserved)
    if len(nodes) < SPARSE_MEMBERS:  # a few nodes in focus: test their bits
        return [node for node in nodes if unserved >> position(node) & 1]
    wanted = set(ctx.view.node_index.members(unserved))
    return [node for node in nodes if position(node) in wanted]
