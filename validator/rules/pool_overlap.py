"""The `pool-overlap` rule: two pools whose ranges meet.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..addresses import intersection
from ..model import Finding, Pool
from .base import Context, rule


def _owner_first(a: Pool, b: Pool) -> tuple[Pool, Pool]:
    """Which of two overlapping pools the finding is about: the narrower one, else the later one.

    The narrower pool is usually the new one (the per-rack /24 inside the old /16 default), and a fixed
    choice gives the finding the same identity before and after a change (the webhook compares them).
    """
    assert a.network is not None and b.network is not None
    ka = (a.network.prefixlen, a.source, a.resource.api_version, a.name)
    kb = (b.network.prefixlen, b.source, b.resource.api_version, b.name)
    return (a, b) if ka > kb else (b, a)


@rule("pool-overlap", "error", "Two pools whose CIDRs overlap",
      calico="calicoctl and the Calico API server refuse to create an overlapping pool; with CRDs, "
             "kube-controllers only marks it Allocatable=False (CIDROverlap) after it is stored")
def pool_overlap(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Finds every pair of pools whose CIDRs share addresses, whatever their API group (a v1 copy and a v3
    copy of different names overlap too). Pools of the same name are `pool-name-duplicate`'s to report.

    ## Why is this bad?
    Two pools would hand out the same addresses: IPAM can give two pods one IP. calicoctl refuses to
    create such a pool, but a CRD apply stores it and Calico only marks it unusable later. The classic
    case is a `/16` default pool that still contains the new per-rack `/24` pools.

    ## Example
    ```yaml
    # default-pool: cidr 192.168.0.0/16, nodeSelector all()
    # rack-1:       cidr 192.168.1.0/24, nodeSelector rack == "1"
    ```

    ## Use instead
    Give the topology pools their own range (or shrink or delete the old pool following Calico's IP pool
    migration guide: create the new pools, disable the old one, then delete it).
    """
    seen: set[tuple[int, int]] = set()
    for pool in ctx.pools():
        for other in ctx.view.overlapping(pool):
            if other.name == pool.name:
                continue
            owner, partner = _owner_first(pool, other)
            pair = (id(owner), id(partner))
            if pair in seen:
                continue
            seen.add(pair)
            assert owner.network is not None and partner.network is not None
            shared = intersection(owner.network, partner.network)
            same_file = partner.source.file == owner.source.file
            where = f"line {partner.source.line}" if same_file else f"{partner.source}"
            yield ctx.finding(
                f"{owner.describe()} overlaps {partner.describe()} at {where}: both contain {shared}",
                owner.resource, owner.source,
                "give each pool its own range; to move addresses, follow Calico's IP pool migration guide",
                related=[partner])
