"""address-leaked: an allocated address no pod, tunnel or service uses, past the grace period."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..model import Finding
from .base import audit_rule

if TYPE_CHECKING:  # the audit package is imported when an audit runs, not by lint
    from ..audit.context import AuditContext


@audit_rule(
    "address-leaked",
    "warning",
    "An allocated address that nothing uses any more, past the grace period",
    calico="kube-controllers' IPAM GC releases the same addresses (kube-controllers/pkg/controllers/"
    "node/ipam.go allocationIsValid, leakGracePeriod default 15m); calicoctl ipam check "
    "reports them but misses IPv6 tunnel addresses",
    needs=("nodes", "pods"),
)
def address_leaked(ctx: AuditContext) -> Iterable[Finding]:
    """
    ## What it does
    Judges every allocation in every IPAMBlock as kube-controllers' `allocationIsValid` does. A tunnel
    address (IPIP, VXLAN, VXLAN IPv6, WireGuard, WireGuard IPv6) is valid while its node exists. A pod's
    address is leaked when the pod does not exist, runs on another node, was evicted, or has reported
    IPs none of which (nor a Multus network's) is this address. Addresses without pod attributes
    (LoadBalancer services, old allocations), Windows-reserved addresses and KubeVirt VMs'
    persistent addresses (handle `k8s-pod-network.vmi.*`) are valid. A leak is reported
    once confirmed: at once when its node is gone, else when the allocation is older than the grace
    period (`audit.leak-grace-period`, default 15 minutes). Addresses whose handle still has a valid
    address are kept, as Calico's GC releases a handle all or none. Needs nodes and pods in the input.

    ## Why is this bad?
    A leaked address is never handed out again until released. Leaks fill blocks, blocks fill pools,
    and pods stay in ContainerCreating with "pools are likely exhausted" (calico#5339, #7382) while
    pods use a fraction of the range. Persistent leaks mean kube-controllers is not running or cannot
    keep up (#8643).

    ## Example
    ```yaml
    # IPAMBlock 10-244-1-0-26: ordinal 5 allocated to pod default/web-1, which was deleted an hour ago
    attributes:
    - handle_id: k8s-pod-network.3f2a...
      secondary: {namespace: default, pod: web-1, node: node-1, timestamp: "2026-12-01 08:00:00 +0000 UTC"}
    ```

    ## Use instead
    Let kube-controllers release it (check it runs), or release it with `calicoctl ipam check -o
    report.json` and `calicoctl ipam release --from-report report.json`.
    """
    from ..audit import checks

    return checks.leaked_addresses(ctx)
