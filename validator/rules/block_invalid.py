"""block-invalid: an IPAMBlock whose allocations, attributes and free list disagree."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..model import Finding
from .base import audit_rule

if TYPE_CHECKING:  # the audit package is imported when an audit runs, not by lint
    from ..audit.context import AuditContext


@audit_rule(
    "block-invalid",
    "error",
    "An IPAMBlock whose allocations, attributes and free list disagree",
    calico="calicoctl ipam check's validateBlock (calicoctl/calicoctl/commands/ipam/check.go)",
)
def block_invalid(ctx: AuditContext) -> Iterable[Finding]:
    """
    ## What it does
    Checks each IPAMBlock as `calicoctl ipam check` does: one allocation slot per address; every
    allocation points to an existing attribute and every attribute is pointed to; `unallocated` lists
    ordinals inside the block, each once, none of them allocated; allocated and unallocated ordinals
    add up to the block size; no `releasedAt` lies in the future.

    ## Why is this bad?
    Calico IPAM trusts these structures: a free-list entry for an allocated ordinal hands one address
    to two pods, and a lost ordinal is never handed out again. They only go wrong through hand edits,
    restores of old backups, or bugs.

    ## Example
    ```yaml
    spec:
      cidr: 10.244.1.0/30
      allocations: [0, null, null, null]
      unallocated: [0, 1, 2, 3]      # ordinal 0 is allocated and free at once
      attributes: [{handle_id: k8s-pod-network.ab12...}]
    ```

    ## Use instead
    ```yaml
      unallocated: [1, 2, 3]
    ```
    """
    from ..audit import checks

    return checks.invalid_blocks(ctx)
