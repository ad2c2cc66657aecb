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
             "kube-controllers only marks it Allocatable=False (CIDROverlap) after it is stored",
      reads=("pools",))
def pool_overlap(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Finds pools whose CIDRs share addresses, whatever their API group (a v1 copy and a v3 copy of
    different names overlap too). Pools of the same name are `pool-name-duplicate`'s to report.
    CIDRs never overlap partly, so of two overlapping pools one lies inside the other (or they are
    equal): the narrower (else the later) pool gets one finding that names every pool it overlaps,
    the first five in the message and "and N more" after, all of them as related objects (SARIF
    related locations). 318 pools nested in one range give one finding per nested pool, not one per
    pair. The webhook judges pairs: it reports each overlap a write creates, and no pre-existing one.

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
    pairs = _pairs(ctx)
    if ctx.focus is not None:  # the webhook: a finding per pair, so a write is judged by the pairs it makes
        for owner, partner in pairs:
            yield _pair_finding(ctx, owner, partner)
        return
    partners: dict[int, tuple[Pool, list[Pool]]] = {}
    for owner, partner in pairs:
        partners.setdefault(id(owner), (owner, []))[1].append(partner)
    for owner, others in partners.values():
        yield _pool_finding(ctx, owner, others)


def _pairs(ctx: Context) -> list[tuple[Pool, Pool]]:
    """Each overlapping pair once, as (owner, partner), in the order the owners' pools are met."""
    seen: set[tuple[int, int]] = set()
    found: list[tuple[Pool, Pool]] = []
    for pool in ctx.pools():
        for other in ctx.view.overlapping(pool):
            if other.name == pool.name:
                continue
            owner, partner = _owner_first(pool, other)
            pair = (id(owner), id(partner))
            if pair not in seen:
                seen.add(pair)
                found.append((owner, partner))
    return found


def _where(owner: Pool, partner: Pool) -> str:
    return f"line {partner.source.line}" if partner.source.file == owner.source.file else f"{partner.source}"


def _pair_finding(ctx: Context, owner: Pool, partner: Pool) -> Finding:
    assert owner.network is not None and partner.network is not None
    shared = intersection(owner.network, partner.network)
    return ctx.finding(
        f"{owner.describe()} overlaps {partner.describe()} at {_where(owner, partner)}: "
        f"both contain {shared}", owner.resource, owner.source, HINT, related=[partner])


def _pool_finding(ctx: Context, owner: Pool, partners: list[Pool]) -> Finding:
    """One finding per pool, naming the pools that contain it (or equal it): every partner is in
    `related`, the message names the first few and counts the rest."""
    assert owner.network is not None
    partners = sorted(partners, key=lambda p: (p.source, p.name))
    named = ", ".join(f"{p.describe()} at {_where(owner, p)}" for p in partners[:SHOWN])
    more = f" and {len(partners) - SHOWN} more" if len(partners) > SHOWN else ""
    both = "both contain" if len(partners) == 1 else "all contain"
    return ctx.finding(f"{owner.describe()} overlaps {named}{more}: {both} {owner.network}",
                       owner.resource, owner.source, HINT, related=partners)


HINT = "give each pool its own range; to move addresses, follow Calico's IP pool migration guide"
SHOWN = 5  # partners a message names before "and N more" (related lists them all)
