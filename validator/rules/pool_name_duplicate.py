"""The `pool-name-duplicate` rule: two pools of one name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from ..model import Finding, Pool
from .base import Context, rule


@rule("pool-name-duplicate", "error", "Two pools with the same name (the later one replaces the earlier)",
      reads=("pools",))
def pool_name_duplicate(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Finds pools that share a name, across `projectcalico.org/v3`, `crd.projectcalico.org/v1` and the
    operator's Installation (which creates IPPools named after its entries).

    ## Why is this bad?
    They are one object in the cluster: whichever is applied last silently replaces the other, so the
    cluster does not have the pools the repository shows. If the two are a kustomize base and its overlay,
    lint the output of `kustomize build` instead of the folders.

    ## Example
    Two files that both define `IPPool/default-ipv4-ippool` with different CIDRs.

    ## Use instead
    One definition per pool name.
    """
    by_name: dict[str, list[Pool]] = defaultdict(list)
    if ctx.focus is not None:  # the focus's names only, looked up: a webhook request costs its own pools
        for pool in ctx.pools():
            if pool.name:
                by_name[pool.name] = ctx.view.pools_named(pool.name)
    else:
        for pool in ctx.cluster.pools:
            if pool.name:
                by_name[pool.name].append(pool)
    for name, pools in by_name.items():
        if len(pools) < 2:
            continue
        first = pools[0]
        for pool in pools[1:]:
            yield ctx.finding(
                f"{pool.resource}: pool name {name!r} is also defined at {first.source} "
                f"({first.resource.api_version}); one replaces the other in the cluster",
                pool.resource, pool.source, "rename one pool or remove the duplicate", related=[first])
