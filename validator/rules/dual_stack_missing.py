"""The `dual-stack-missing` rule: a family missing under require-dual-stack.

ippool-validator's own check (Calico checks none of this), on when the policy file sets `require-dual-stack`.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding, Source, family_name
from .base import Context, rule

FAMILIES = (4, 6)


@rule("dual-stack-missing", "error", "require-dual-stack is set but a node has no enabled pool of a family",
      needs_config="require-dual-stack", reads=("pools", "nodes"))
def dual_stack_missing(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    With `require-dual-stack: true` in the policy file, checks that the cluster has enabled workload
    pools of both IP families. With nodes known (Node manifests, `--nodes`, `--kubeconfig`), it reports
    each node that gets no address of a family because no enabled workload pool of that family exists;
    a node that pools of the family exist for but do not select is `node-unselected`'s to report. Without
    nodes, it reports the missing family once, at the policy line that requires it.

    ## Why is this bad?
    In a dual-stack cluster every pod needs an IPv4 and an IPv6 address: Calico's IPAM asks for both, and a
    pod on a node without a pool of one family fails to start with an IPAM error.

    ## Example
    ```yaml
    # require-dual-stack: true;  pools: default-ipv4 (10.244.0.0/16) only
    ```

    ## Use instead
    Add an enabled IPv6 pool that selects every node (`fd00:10:244::/56`, `nodeSelector: all()`).
    """
    if not ctx.config.require_dual_stack:
        return
    missing = [v for v in FAMILIES if not ctx.view.workload_pools.get(v)]
    if not missing:
        return
    if not ctx.cluster.nodes_known:
        if ctx.cluster_wide:
            line = ctx.config.lines.get("require-dual-stack", 1)
            for version in missing:
                yield ctx.finding(
                    f"require-dual-stack is set but there is no enabled {family_name(version)} pool for "
                    f"workloads: no node can get an {family_name(version)} address",
                    None, Source(ctx.config.source, line) if ctx.config.source else None,
                    f"add an enabled {family_name(version)} pool with nodeSelector: all()",
                    subject=family_name(version))
        return
    names = " and ".join(family_name(v) for v in missing)
    for node in ctx.nodes():
        yield ctx.finding(
            f"{node.resource} gets no {names} address: there is no enabled {names} pool for workloads, "
            f"and the policy requires dual stack", node.resource, node.source,
            f"add an enabled {names} pool that selects this node", subject=names)
