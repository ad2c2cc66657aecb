"""The `operator-pool-invalid` rule: Installation pools the operator refuses.

Read from tigera/operator master 40788b9b (`pkg/controller/ippool/validation.go`,
`pkg/controller/installation/validation.go`).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding
from .base import Context, rule
from .common import LOAD_BALANCER, selector_problem, uses_written


@rule("operator-pool-invalid", "error", "An Installation pool that the operator refuses for its CNI or IPAM "
      "plugin", calico="the tigera operator (pkg/controller/ippool/validation.go ValidatePools and "
      "pkg/controller/installation/validation.go); Calico itself never sees the pool", scope="object",
      reads=("pools",))
def operator_pool_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks the operator's own conditions on `Installation.spec.calicoNetwork.ipPools` that depend on the
    rest of the Installation: with a CNI plugin other than Calico (`spec.cni.type`, which defaults by
    `kubernetesProvider`: AKS AzureVNET, EKS AmazonVPC, GKE GKE), a pool's `nodeSelector` must be
    `all()` and its `encapsulation` must be `None`; with Calico CNI and HostLocal IPAM, a pool cannot use
    VXLAN. (The BGP and BPF conditions depend on the operator version's routing defaults and are not
    checked.)

    ## Why is this bad?
    The operator refuses the whole Installation ("IP pool nodeSelector (...) should be 'all()' when using
    non-Calico CNI plugin", "... is invalid for ipPool.encapsulation when using non-Calico CNI, should be
    None", "... is invalid for ipPool.encapsulation with Calico CNI and HostLocal IPAM") and stops
    reconciling it: no pool is created or changed until it is fixed.

    ## Example
    ```yaml
    spec:
      cni: {type: AmazonVPC}
      calicoNetwork:
        ipPools:
        - cidr: 10.244.0.0/16
          encapsulation: VXLAN
    ```

    ## Use instead
    ```yaml
          encapsulation: None
    ```
    """
    for pool in ctx.pools():
        settings = pool.operator
        if pool.origin != "operator" or settings is None:
            continue
        load_balancer = LOAD_BALANCER in uses_written(pool)
        encapsulation = pool.raw.get("encapsulation")
        if settings.cni_type != "Calico":
            selector = pool.raw.get("nodeSelector")
            if (isinstance(selector, str) and selector not in ("", "all()") and not load_balancer
                    and not selector_problem(selector)):
                yield ctx.finding(
                    f"{pool.resource}: nodeSelector {selector!r} with CNI plugin {settings.cni_type} (the "
                    f"operator: IP pool nodeSelector ({selector}) should be 'all()' when using non-Calico "
                    "CNI plugin)", pool.resource, ctx.at(pool, "spec", "nodeSelector"), "remove nodeSelector",
                    subject="nodeSelector")
            ipv6_ipip = pool.version == 6 and encapsulation in ("IPIP", "IPIPCrossSubnet")
            if encapsulation not in (None, "", "None") and not load_balancer and not ipv6_ipip:
                yield ctx.finding(
                    f"{pool.resource}: encapsulation {encapsulation} with CNI plugin {settings.cni_type} "
                    f"(the operator: {encapsulation} is invalid for ipPool.encapsulation when using "
                    "non-Calico CNI, should be None)", pool.resource, ctx.at(pool, "spec", "ipipMode"),
                    "set encapsulation: None",
                    subject="encapsulation")
        elif settings.ipam_type == "HostLocal" and encapsulation in ("VXLAN", "VXLANCrossSubnet"):
            yield ctx.finding(
                f"{pool.resource}: encapsulation {encapsulation} with HostLocal IPAM (the operator: "
                f"{encapsulation} is invalid for ipPool.encapsulation with Calico CNI and HostLocal IPAM)",
                pool.resource, ctx.at(pool, "spec", "ipipMode"), "use IPIP or None, or Calico IPAM",
                subject="encapsulation")
