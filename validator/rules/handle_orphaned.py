"""handle-orphaned: an IPAMHandle that no allocated address belongs to."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..model import Finding
from .base import audit_rule

if TYPE_CHECKING:  # the audit package is imported when an audit runs, not by lint
    from ..audit.context import AuditContext


@audit_rule(
    "handle-orphaned",
    "warning",
    "An IPAMHandle that no allocated address belongs to",
    calico='calicoctl ipam check: "handles with no matching IPs" (calicoctl/calicoctl/commands/ipam/'
    "check.go); kube-controllers does not collect them (calico#8548)",
    needs=("handles",),
)
def handle_orphaned(ctx: AuditContext) -> Iterable[Finding]:
    """
    ## What it does
    Reads every IPAMHandle (streamed, one at a time) and reports those whose `handleID` no allocation
    in any IPAMBlock names. Soft-deleted handles (`deleted`) are not counted.

    ## Why is this bad?
    Orphaned handles are left behind when addresses are released without their handle (crashes,
    hand edits, old releases). They cost nothing in addresses but pile up by the tens of thousands
    (calico#8548: 30,000; #10759: 63,145), slowing every IPAM list and the API server, and
    kube-controllers never removes them.

    ## Example
    ```yaml
    kind: IPAMHandle
    metadata: {name: k8s-pod-network.0c5e...}
    spec: {handleID: k8s-pod-network.0c5e..., block: {10.244.3.0/26: 1}}   # no block holds it
    ```

    ## Use instead
    Delete the handle, or `calicoctl ipam check -o report.json` and `calicoctl ipam release
    --from-report report.json`, which releases handles with no matching IPs.
    """
    from ..audit import checks

    return checks.orphaned_handles(ctx)
