"""The `cidr-conflicts-reserved` rule: pools on the policy's reserved-cidrs.

ippool-validator's own check (Calico checks none of this), on when the policy file sets `reserved-cidrs`.
Ranges are looked up in an `AddressIndex`.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..addresses import intersection
from ..model import Finding
from .base import Context, rule
from .common import reserved_index


@rule("cidr-conflicts-reserved", "error", "A pool overlaps a range the policy's reserved-cidrs keeps free",
      scope="object", needs_config="reserved-cidrs", reads=("pools",))
def cidr_conflicts_reserved(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    With `reserved-cidrs` in the policy file, reports every pool whose CIDR shares an address with one of
    those ranges, quoting the reason given for the range. Disabled pools are checked too.

    ## Why is this bad?
    A pod address inside the service CIDR, a node subnet, a VPN or an on-premises network makes traffic to
    that network go to the pod instead (or the other way round): connections break in ways that only show
    under load or from some nodes. Kubernetes' kubeadm guide warns that the pod network must not overlap
    any host network; Calico does not check it.

    ## Example
    ```yaml
    # reserved-cidrs: [{cidr: 10.96.0.0/12, reason: Kubernetes service CIDR}]
    spec:
      cidr: 10.96.0.0/16
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 10.244.0.0/16
    ```
    """
    reserved = ctx.config.reserved_cidrs
    if not reserved:
        return
    index = reserved_index(reserved)
    for pool in ctx.pools():
        net = pool.masked_network  # with host bits set the range is still known
        if net is None:
            continue
        for hit in sorted(index.overlapping(net), key=lambda r: (r.network.version, r.network)):
            shared = intersection(net, hit.network)
            how = "lies inside" if shared == net else "contains"
            yield ctx.finding(
                f"{pool.describe()} {how} reserved range {hit.network} ({hit.reason}): {shared} is "
                f"reserved in the policy file", pool.resource, ctx.at(pool, "spec", "cidr"),
                f"move the pool out of {hit.network}", subject=str(hit.network))
