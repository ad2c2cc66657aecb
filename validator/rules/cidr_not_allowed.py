"""The `cidr-not-allowed` rule: pools outside the policy's allowed-cidrs.

ippool-validator's own check (Calico checks none of this), on when the policy file sets `allowed-cidrs`.
Ranges are looked up in an `AddressIndex`.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding, family_name
from .base import Context, rule
from .common import allowed_index


@rule("cidr-not-allowed", "error", "A pool outside every range that the policy's allowed-cidrs permits",
      scope="object", needs_config="allowed-cidrs", reads=("pools",))
def cidr_not_allowed(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    With `allowed-cidrs` in the policy file, checks that every pool's CIDR lies inside one of those
    supernets. Disabled pools are checked too: their addresses stay in use until the pool is deleted. A
    dual-stack cluster lists a range of each family; a pool of a family the list lacks is reported.

    ## Why is this bad?
    The pod network was carved out of the organisation's address plan for a reason: ranges outside it may
    be routed elsewhere, announced over BGP to the wrong peers, or collide with a network that is only
    allocated later. Calico itself accepts any range.

    ## Example
    ```yaml
    # .ippool-validator.yaml: allowed-cidrs: [10.244.0.0/16]
    spec:
      cidr: 10.250.0.0/24
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 10.244.8.0/24
    ```
    """
    allowed = ctx.config.allowed_cidrs
    if not allowed:
        return
    index = allowed_index(allowed)
    for pool in ctx.pools():
        net = pool.masked_network  # with host bits set the range is still known
        if net is None or next(index.supernets(net), None) is not None:
            continue
        family = [str(a) for a in allowed if a.version == net.version]
        inside = sorted({str(sub) for sub in index.subnets(net)})
        if not family:
            why = f"allowed-cidrs has no {family_name(net.version)} range"
        elif inside:
            why = f"only part of it ({', '.join(inside)}) is inside allowed-cidrs ({', '.join(family)})"
        else:
            why = f"it lies outside allowed-cidrs ({', '.join(family)})"
        yield ctx.finding(f"{pool.describe()} is not an allowed range: {why}", pool.resource,
                          ctx.at(pool, "spec", "cidr"),
                          "choose a range inside allowed-cidrs, or extend allowed-cidrs in the policy file")
