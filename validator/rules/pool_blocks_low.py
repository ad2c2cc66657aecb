"""pool-blocks-low: a pool whose blocks are nearly or all allocated."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..model import Finding
from .base import audit_rule

if TYPE_CHECKING:  # the audit package is imported when an audit runs, not by lint
    from ..audit.context import AuditContext


@audit_rule(
    "pool-blocks-low",
    "warning",
    "A pool whose blocks are nearly all allocated to nodes",
    calico="kube-controllers' AddressSpaceNearlyFull condition (80%, addresses, not blocks; "
    "kube-controllers/pkg/controllers/ippool/nearly_full.go, newer than v3.32)",
)
def pool_blocks_low(ctx: AuditContext) -> Iterable[Finding]:
    """
    ## What it does
    Counts each workload pool's blocks (`2^(blockSize - prefix)`) against the blocks the IPAMBlocks
    inside it take, and reports the pool when the allocated share reaches the threshold
    (`audit.pool-free-blocks-threshold`, default 80%). Disabled pools and pools that serve no
    workloads are skipped.

    ## Why is this bad?
    Exhaustion is about blocks, not addresses: a /16 of /26 blocks serves only 1,024 nodes whatever
    its address percentage says. When no block is left, a node that needs one borrows addresses from
    other nodes' blocks (breaking topology intent and route aggregation) or, with strictAffinity, fails
    pod creation (calico#8643: "used up the 1024 IP blocks, so a few static nodes borrowed IPs").

    ## Example
    ```yaml
    spec:
      cidr: 10.244.0.0/24      # 4 blocks of /26: the fourth node takes the last one
      blockSize: 26
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 10.244.0.0/16      # 1,024 blocks; or add a second pool for the same nodes
      blockSize: 26
    ```
    """
    from ..audit import checks

    return checks.pool_free_blocks(ctx)
