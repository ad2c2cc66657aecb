"""affinity-stale: a block affinity for a node that no longer exists, or for a block that does not."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..model import Finding
from .base import audit_rule

if TYPE_CHECKING:  # the audit package is imported when an audit runs, not by lint
    from ..audit.context import AuditContext


@audit_rule(
    "affinity-stale",
    "warning",
    "A block affinity held for a node that is gone, or for no block",
    calico="kube-controllers releases affinities of deleted nodes once their addresses are gone "
    "(kube-controllers/pkg/controllers/node/ipam.go checkAllocations, cleanupNode)",
    needs=("nodes",),
)
def affinity_stale(ctx: AuditContext) -> Iterable[Finding]:
    """
    ## What it does
    Reports host BlockAffinities (confirmed, `pending`, or stuck `pendingDeletion`) whose node no
    longer exists, IPAMBlocks affine to a node that no longer exists (when no affinity says so
    already), and confirmed affinities whose block does not exist (calico#4471). Virtual affinities
    (LoadBalancer blocks) are not node-bound and are skipped. Needs nodes in the input.

    ## Why is this bad?
    A stale affinity keeps a whole block out of the pool: with /26 blocks in a /16, each one is 1 of
    only 1,024. Clusters that scale nodes up and down leave them by the thousand when the GC falls
    behind (calico#7508, #8643, kube-controllers#564). An affinity without its block makes the node
    advertise a route for addresses it does not own.

    ## Example
    ```yaml
    kind: BlockAffinity
    metadata: {name: node-9-10-244-7-0-26}
    spec: {node: node-9, cidr: 10.244.7.0/26, state: confirmed}   # node-9 was deleted last week
    ```

    ## Use instead
    Make sure kube-controllers runs with the node controller enabled; it releases the affinity once
    the node's addresses are released.
    """
    from ..audit import checks

    return checks.stale_affinities(ctx)
