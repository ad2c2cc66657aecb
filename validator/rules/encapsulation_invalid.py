"""The `encapsulation-invalid` rule: IPIP on IPv6, or IPIP and VXLAN at once.

Calico's own check: the IPPool CEL rules (`api/pkg/apis/projectcalico/v3/ippool.go`) and `validateIPPoolSpec`
(`libcalico-go/lib/validator/v3/validator.go`), projectcalico/calico master 87c15906.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding
from .base import Context, rule
from .common import ENABLED


@rule("encapsulation-invalid", "error", "IPIP on an IPv6 pool, or IPIP and VXLAN both enabled",
      calico="calicoctl and the Calico API server, all versions (clientv3: 'Cannot enable both VXLAN and "
             "IPIP', 'IPIP is not supported on an IPv6 IP pool'); the IPPool CRD's CEL rules since v3.32.0; "
             "the operator for IPIP on IPv6", scope="object", reads=("pools",))
def encapsulation_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks `ipipMode` and `vxlanMode`: they cannot both be enabled (anything but `Never`), and IPIP
    cannot be enabled on an IPv6 pool (VXLAN on IPv6 is fine).

    ## Why is this bad?
    Calico rejects the pool: a pool has one encapsulation, and IPIP carries IPv4 only.

    ## Example
    ```yaml
    spec:
      cidr: 10.244.0.0/16
      ipipMode: Always
      vxlanMode: CrossSubnet
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 10.244.0.0/16
      vxlanMode: CrossSubnet
    ```
    """
    for pool in ctx.pools():
        ipip, vxlan = pool.spec.get("ipipMode"), pool.spec.get("vxlanMode")
        if ipip in ENABLED and vxlan in ENABLED:
            yield ctx.finding(f"{pool.resource}: ipipMode {ipip} and vxlanMode {vxlan} are both enabled "
                              "(Calico: ipipMode and vxlanMode cannot both be enabled)", pool.resource,
                              ctx.at(pool, "spec", "vxlanMode"), "set one of them to Never", subject="both")
        if ipip in ENABLED and pool.version == 6:
            yield ctx.finding(f"{pool.describe()}: ipipMode {ipip} on an IPv6 pool (Calico: IPIP is not "
                              "supported on IPv6 pools; IPIP carries IPv4 only)",
                              pool.resource, ctx.at(pool, "spec", "ipipMode"),
                              "use vxlanMode for IPv6, or ipipMode: Never",
                              subject="ipv6")
