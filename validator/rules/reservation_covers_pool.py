"""The `reservation-covers-pool` rule: reservations that take a whole pool.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..addresses import covered_by, meets, span
from ..model import Finding, Related
from .base import Context, rule


@rule("reservation-covers-pool", "error", "IPReservations reserve every address of a pool",
      reads=("pools", "reservations"))
def reservation_covers_pool(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Finds enabled pools whose whole range is reserved by IPReservation `reservedCIDRs` (one CIDR, or several
    that add up to it).

    ## Why is this bad?
    IPAM never hands out a reserved address, so the pool gives nothing: the nodes it serves get no pod
    addresses from it while it looks healthy.

    ## Example
    ```yaml
    kind: IPReservation
    spec:
      reservedCIDRs: ["10.244.8.0/24"]   # all of IPPool rack-8
    ```

    ## Use instead
    Reserve only the addresses that must not be used (a few `/32`s), or delete the pool.
    """
    if not ctx.cluster.reservations:
        return
    index = ctx.view.reservation_index
    for pool in ctx.pools():
        net = pool.network
        if pool.disabled or net is None:
            continue
        # by name, so that the finding's identity does not depend on the index's order
        holders = sorted(dict.fromkeys(index.overlapping(net)), key=lambda h: (h.resource.name, h.source))
        whole = span(net)
        ranges = [r for holder in holders for r in holder.networks if meets(span(r), whole)]
        if ranges and covered_by(net, ranges):
            yield ctx.finding(
                f"{pool.describe()} is entirely reserved by {', '.join(str(h.resource) for h in holders)} "
                f"({', '.join(sorted({str(r) for r in ranges}))}): it can hand out no address",
                pool.resource, pool.source,
                "reserve only the addresses that must stay free, or delete or disable the pool",
                related=[Related(h.resource, h.source) for h in holders])
