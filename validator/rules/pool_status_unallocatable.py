"""The `pool-status-unallocatable` rule: the cluster's Allocatable=False verdict.

Read from projectcalico/calico's IPPool status controller
(`kube-controllers/pkg/controllers/ippool/pool_controller.go`, master 87c15906).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding
from .base import Context, rule


@rule("pool-status-unallocatable", "error", "The cluster marks the pool Allocatable=False (CIDROverlap or "
      "another reason)",
      calico="kube-controllers' IPPool controller sets the condition (v3.32+, projectcalico.org/v3 CRD "
             "mode); Calico IPAM (clientv3 filterIPPool) then skips the pool", reads=("pools",))
def pool_status_unallocatable(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reads `status.conditions` of pools in a cluster dump (`kubectl get ippools -o yaml`) and reports a
    condition `type: Allocatable, status: "False"` with its reason and message: `CIDROverlap` (the pool
    overlaps a pool that was active first), `Terminating`, or any other reason. `PoolDisabled` on a pool
    with `disabled: true` is what was asked for and is not reported.

    ## Why is this bad?
    This is Calico's own verdict: IPAM skips the pool ("Skipping IP pool with condition
    Allocatable=false"), so the nodes it was meant for get no address from it, although the manifest looks
    fine and admission accepted it. An error, because the pool does not do what its spec says; for
    `CIDROverlap` kube-controllers keeps the older pool running and disables this one.

    ## Example
    ```yaml
    status:
      conditions:
      - type: Allocatable
        status: "False"
        reason: CIDROverlap
        message: CIDR overlaps another pool; disabled to prevent IP allocation conflicts.
    ```

    ## Use instead
    Give the pool a range of its own (see `pool-overlap`), or delete it following Calico's IP pool
    migration guide.
    """
    for pool in ctx.pools():
        condition = pool.unallocatable
        if condition is None:
            continue
        reason = str(condition.get("reason") or "no reason given")
        if reason == "PoolDisabled" and pool.disabled:
            continue
        message = str(condition.get("message") or "").strip()
        overlap = reason == "CIDROverlap"
        others = [p for p in ctx.view.overlapping(pool) if p.name != pool.name] if overlap else []
        seen = f"; it overlaps {', '.join(p.describe() for p in others[:3])}" if others else ""
        yield ctx.finding(
            f"{pool.describe()}: the cluster reports Allocatable=False, reason {reason}"
            f"{': ' + message if message else ''}; Calico IPAM gives no address from it{seen}",
            pool.resource, pool.source,
            "give the pool a range of its own, or delete it following Calico's IP pool migration guide"
            if reason == "CIDROverlap" else "see the pool's status in the cluster", related=others)
