"""handle-missing: allocated addresses whose handle has no IPAMHandle."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..model import Finding
from .base import audit_rule

if TYPE_CHECKING:  # the audit package is imported when an audit runs, not by lint
    from ..audit.context import AuditContext


@audit_rule(
    "handle-missing",
    "error",
    "Allocated addresses whose handle has no IPAMHandle",
    calico='calicoctl ipam check: "handles mentioned in blocks with no matching handle resource" '
    "(calicoctl/calicoctl/commands/ipam/check.go)",
    needs=("handles",),
)
def handle_missing(ctx: AuditContext) -> Iterable[Finding]:
    """
    ## What it does
    Collects the `handle_id` of every allocation in every IPAMBlock and reports each one that has no
    IPAMHandle (by `spec.handleID`), naming the blocks that hold its addresses.

    ## Why is this bad?
    Calico releases addresses by handle (the CNI's DEL, kube-controllers' GC): an address whose handle
    object is gone cannot be released that way, so it stays allocated for ever. It also means someone
    or something wrote IPAM objects outside Calico IPAM.

    ## Example
    ```yaml
    # IPAMBlock 10-244-1-0-26
    attributes:
    - handle_id: k8s-pod-network.9a1b...   # no IPAMHandle with this handleID exists
    ```

    ## Use instead
    Release the addresses with `calicoctl ipam release --ip=ADDRESS`; never edit IPAM objects by hand.
    """
    from ..audit import checks

    return checks.missing_handles(ctx)
