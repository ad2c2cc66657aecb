"""borrowing-cross-topology: a node holding addresses from a pool that does not select it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..model import Finding
from .base import audit_rule

if TYPE_CHECKING:  # the audit package is imported when an audit runs, not by lint
    from ..audit.context import AuditContext


@audit_rule(
    "borrowing-cross-topology",
    "warning",
    "A node holding addresses from a pool whose nodeSelector does not select it",
    calico="calicoctl ipam show --show-borrowed lists borrowed addresses without judging them "
    "(calicoctl/calicoctl/commands/ipam/show.go)",
    needs=("nodes",),
)
def borrowing_cross_topology(ctx: AuditContext) -> Iterable[Finding]:
    """
    ## What it does
    For every allocation whose `node` is not the block's affine node (a borrowed address), checks
    whether the block's pool selects that node. It reports each node that holds addresses from pools
    that do not select it, one finding per node and pool, with the addresses. Borrowing inside a pool
    that selects the node is ordinary Calico behaviour and is not reported.

    ## Why is this bad?
    Per-rack or per-zone pools exist so that a rack's pods use the rack's range (route aggregation,
    firewall ranges, the "assign IP addresses based on topology" design). Calico borrows from any
    block once a node's pools have no free block, so a rack-1 node may end up with rack-0 addresses,
    silently defeating that design.

    ## Example
    ```yaml
    # rack-0-ippool (192.168.0.0/24, nodeSelector rack == "0"): block 192.168.0.64/26
    #   ordinal 7: node kube-node-3 (rack=1)
    ```

    ## Use instead
    Give each rack's pool enough blocks, or set `strictAffinity: true` in the IPAMConfiguration so that
    a node without a free block fails instead of borrowing.
    """
    from ..audit import checks

    return checks.cross_topology_borrowing(ctx)
