"""dual-stack-mismatch: Calico's podIPs annotation and the pod's status.podIPs disagree."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..model import Finding
from .base import audit_rule

if TYPE_CHECKING:  # the audit package is imported when an audit runs, not by lint
    from ..audit.context import AuditContext


@audit_rule(
    "dual-stack-mismatch",
    "warning",
    "A pod whose Calico podIPs annotation and status.podIPs disagree",
    calico="Calico prefers status.podIPs when it converts a pod (libcalico-go lib/backend/k8s/"
    "conversion/conversion.go getPodIPs); the GC once freed the missing family (calico#5044, "
    "fixed by kube-controllers#901)",
    needs=("pod-status",),
)
def dual_stack_mismatch(ctx: AuditContext) -> Iterable[Finding]:
    """
    ## What it does
    Compares, for each running pod read with its status, the addresses Calico assigned
    (`cni.projectcalico.org/podIPs`) with those Kubernetes reports (`status.podIPs`), and reports the
    pod when they differ, typically an IPv6 address Calico assigned that Kubernetes does not show.
    Needs full pods (a dump of `kubectl get pods -o json`, or `audit --kubeconfig --pod-status`).

    ## Why is this bad?
    Calico's converter trusts `status.podIPs`, so the missing address gets no policy and no route, and
    its allocation looks leaked: before kube-controllers#901 the GC released it while the pod used it
    (calico#5044). It means Calico is dual-stack while Kubernetes is not (#9312).

    ## Example
    ```yaml
    metadata:
      annotations: {cni.projectcalico.org/podIPs: "10.244.1.5/32,fd00:10:244::5/128"}
    status:
      podIPs: [{ip: 10.244.1.5}]
    ```

    ## Use instead
    Configure the cluster dual-stack (API server, controller manager and kube-proxy with both service
    and pod CIDRs), or remove the IPv6 pool and `assign_ipv6` from the CNI configuration.
    """
    from ..audit import checks

    return checks.dual_stack_mismatch(ctx)
