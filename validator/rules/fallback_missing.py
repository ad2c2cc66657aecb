"""The `fallback-missing` rule: topology pools without an all() fallback.

Calico's tutorial on topology pools: "assign at least one IP Pool to every node".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..analysis import selector_of
from ..model import Finding, Pool, family_name
from .base import Context, rule
from .common import some_of


@rule("fallback-missing", "warning",
      "Pools use node selectors but no enabled pool of the family selects every node", reads=("pools",))
def fallback_missing(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    When pools of an IP family use node selectors, checks that at least one enabled pool of that family
    selects every node: its `nodeSelector` is `all()`, empty or absent.

    Only pools that Calico IPAM picks by themselves count, as `determinePools` and `filterPoolsByUse`
    choose them (projectcalico/calico `libcalico-go/lib/ipam/ipam.go`): an enabled pool (not
    `disabled`, not marked `Allocatable=False`) with `assignmentMode: Automatic` (the default) whose
    `allowedUses` include `Workload` (the default). A pool whose `nodeSelector` is `!all()` matches no
    node, so IPAM never picks it either: manual and egress-gateway pools are written so, and are used
    only when a pod or namespace names them. A family served only by such pools needs no fallback.

    ## Why is this bad?
    Topology pools cover the nodes that exist today. A new node that is not yet labelled (or carries a
    new rack or zone value) matches none of them and its pods get no address. Calico's tutorial advises
    to "assign at least one IP Pool to every node".

    ## Example
    ```yaml
    # rack-1: nodeSelector rack == "1";  rack-2: nodeSelector rack == "2";  nothing else
    ```

    ## Use instead
    Keep an enabled pool with `nodeSelector: all()` as a fallback (or turn this rule off in the policy file
    with `require-fallback: false` when strict topology is the point).
    """
    if not ctx.cluster_wide or not ctx.config.require_fallback:
        return
    for version in sorted(ctx.view.families_in_use()):  # a family with no workload pool has none to judge
        if judged_pools(ctx, version, fallback=True):
            continue
        topology = [p for p in judged_pools(ctx, version) if selector_of(p) is not None]
        if not topology:
            continue
        first = min(topology, key=lambda p: p.source)
        yield ctx.finding(
            f"no enabled {family_name(version)} pool selects every node: a new or unlabelled node matches "
            f"none of {some_of([f'{p.name} ({p.node_selector})' for p in topology])}",
            None, first.source,
            f"add an enabled {family_name(version)} pool with nodeSelector: all() as fallback",
            subject=family_name(version))


def judged_pools(ctx: Context, version: int, fallback: bool = False) -> Sequence[Pool]:
    """The family's pools that IPAM may assign from automatically (`Pool.assigns_automatically`, and not
    `!all()`: `Pool.selects_no_node`), also those whose CIDR only has host bits set (their family is
    known; cidr-invalid reports the CIDR), in cluster order; with `fallback`, only those that select
    every node. Kept by the view, so the webhook corrects a list for a change instead of refiltering, and
    a cluster with its fallback pool costs that pool, not a walk over every topology pool."""

    def qualifies(pool: Pool) -> bool:
        return pool.assigns_automatically and pool.version == version and not pool.selects_no_node

    def serves_every_node(pool: Pool) -> bool:
        return qualifies(pool) and _selects_all(pool)

    if fallback:
        return ctx.view.pools_where(f"fallback-missing/{version}/all", serves_every_node, _unordered)
    return ctx.view.pools_where(f"fallback-missing/{version}", qualifies, _unordered)


def _unordered(pool: Pool) -> int:
    return 0


def _selects_all(pool: Pool) -> bool:
    selector = selector_of(pool)
    return selector is not None and selector.is_all
