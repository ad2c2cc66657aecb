"""The `pool-selects-nothing` rule: an enabled pool that selects no known node.

The view's node bitsets answer "which nodes does this selector match" for every pool at once.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis import selector_of
from ..model import Finding
from .base import Context, rule
from .common import some_of


@rule("pool-selects-nothing", "warning", "An enabled pool that selects none of the known nodes",
      needs_nodes=True, reads=("pools", "nodes"))
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
    names: dict[str, list[str]] = {}
    for pool in ctx.pools():
        selector = selector_of(pool)
        if not pool.serves_workloads or selector is None or ctx.view.selected_bits(pool):
            continue
        seen = []
        for key in sorted(selector.keys):
            values = names.get(key)
            if values is None:  # once per key, not per pool: a key may have a value per node
                values = names[key] = sorted(value for value, _ in index.values(key))
            seen.append(f"{key}: {some_of([repr(v) for v in values])}" if values else f"{key}: on no node")
        found = f"; label values on nodes: {'; '.join(seen)}" if seen else ""
        yield ctx.finding(
            f"{pool.resource} (nodeSelector {pool.node_selector!r}) selects none of the "
            f"{len(ctx.cluster.nodes)} known nodes{found}", pool.resource, pool.source,
            "check the selector and the node labels for a typo")
