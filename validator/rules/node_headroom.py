"""node-headroom: a node that cannot reach its max pods within its block limit, from live counts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..model import Finding
from .base import audit_rule

if TYPE_CHECKING:  # the audit package is imported when an audit runs, not by lint
    from ..audit.context import AuditContext


@audit_rule(
    "node-headroom",
    "warning",
    "A node that cannot reach its max pods within its block limit",
    calico='libcalico-go lib/ipam/ipam.go autoAssign fails with "cannot allocate new block due to per '
    'host block limit" (maxBlocksPerHost, 0 means 20) and does not borrow; prepareAffinityBlocksForHost '
    'counts only affine blocks in pools that select the node',
    needs=("nodes",),
)
def node_headroom(ctx: AuditContext) -> Iterable[Finding]:
    """
    ## What it does
    For each node and IP family its pools serve, counts the blocks affine to it in the pools that
    select it (enabled, Automatic, allowing Workload), the free addresses in them and the pod addresses
    it holds now, and works out how many more addresses it can get within `maxBlocksPerHost`
    (IPAMConfiguration `default`; 0 or absent means 20): the free ones plus whole new blocks of its
    first pool. It reports the node when that is less than its remaining pods (`status.allocatable.pods`,
    else `max-pods`, minus those it runs). This is `node-block-limit` on the cluster as it is: blocks
    already claimed or partly used count as they are. A block of a pool that no longer selects the node
    neither counts against its limit nor gives it addresses, as in libcalico-go `lib/ipam/ipam.go`
    (`prepareAffinityBlocksForHost` keeps only affine blocks inside the selecting pools, and
    `autoAssign` counts `numBlocksOwned` over them).

    ## Why is this bad?
    At the limit the next pod fails with "cannot allocate new block due to per host block limit"
    (calico#4861, #5004, #9462) and stays in ContainerCreating, whatever the pool's free addresses.

    ## Example
    A node with `allocatable.pods: 110`, 20 blocks of /29 (8 addresses each) all full: 160 addresses
    would serve it, but pods of completed Jobs still hold its addresses.

    ## Use instead
    Raise `maxBlocksPerHost` in the IPAMConfiguration, use a larger blockSize for its pool, and let
    kube-controllers release leaked addresses.
    """
    from ..audit import checks

    return checks.node_headroom(ctx)
