"""The `load-balancer-invalid` rule: a LoadBalancer pool Calico refuses.

Calico's own check: `libcalico-go/lib/validator/v3/validator.go`, clientv3 `ippool.go` and the IPPool CEL
rules, projectcalico/calico master 87c15906 and v3.26.0 to v3.32.1.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding, Pool
from .base import Context, rule
from .common import ENABLED, LOAD_BALANCER, selector_problem, uses_written


@rule("load-balancer-invalid", "error", "A LoadBalancer pool with other uses, encapsulation, "
      "disableBGPExport or a nodeSelector other than all()",
      calico="calicoctl and the Calico API server since v3.30 (validator/v3); the IPPool CRD's CEL rules "
             "(other uses and encapsulation since v3.32.0, the rest since v3.33); the operator "
             "(ValidatePools)",
      scope="object", reads=("pools",))
def load_balancer_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks a pool whose `allowedUses` contains `LoadBalancer` (addresses for Services of type
    LoadBalancer, handed out by kube-controllers): it must not also allow `Workload` or `Tunnel`, must
    not enable `ipipMode` or `vxlanMode`, must not set `disableBGPExport: true`, and its `nodeSelector`
    must be exactly `all()`. An absent `nodeSelector` counts as `all()`; an explicit `""` does not for
    the CRD's rule (Calico v3.33+ compares the text), though calicoctl would default it. In the operator's
    Installation, an IPv4 pool without `encapsulation` gets IPIP under Calico CNI, so a LoadBalancer
    entry must say `encapsulation: None`.

    ## Why is this bad?
    Calico rejects the pool ("LoadBalancer cannot be combined with Workload or Tunnel allowed uses",
    "LoadBalancer IP pool cannot have IPIP or VXLAN enabled", "LoadBalancer IP pools cannot disable BGP
    export", "IP Pool with AllowedUse LoadBalancer must have nodeSelector set to all()"): service
    addresses are not node-local, are advertised over BGP, and are never tunnelled.

    ## Example
    ```yaml
    spec:
      cidr: 203.0.113.0/24
      allowedUses: [LoadBalancer]
      ipipMode: Always
      nodeSelector: has(edge)
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 203.0.113.0/24
      allowedUses: [LoadBalancer]
    ```
    """
    for pool in ctx.pools():
        uses = uses_written(pool)
        if LOAD_BALANCER not in uses:
            continue
        others = sorted({u for u in uses if u in ("Workload", "Tunnel")})
        if others:
            yield ctx.finding(
                f"{pool.resource}: allowedUses combines LoadBalancer with {', '.join(others)} (Calico: "
                "LoadBalancer cannot be combined with Workload or Tunnel allowed uses)", pool.resource,
                ctx.at(pool, "spec", "allowedUses"), "use a separate pool for LoadBalancer addresses",
                subject="uses")
        encapsulated = [f"{f} {pool.spec.get(f)}" for f in ("ipipMode", "vxlanMode")
                        if pool.spec.get(f) in ENABLED]
        if encapsulated:
            why = "Calico: LoadBalancer IP pool cannot have IPIP or VXLAN enabled"
            hint = "set ipipMode and vxlanMode to Never (or leave them out)"
            if pool.origin == "operator":
                why = "the operator: IP pool encapsulation must be none if allowedUse is LoadBalancer"
                hint = "set encapsulation: None"
                encapsulated = [f"encapsulation {pool.raw.get('encapsulation')}"]
                if not pool.raw.get("encapsulation"):
                    encapsulated = ["encapsulation IPIP, the operator's default for IPv4 under Calico CNI"]
            yield ctx.finding(f"{pool.resource}: LoadBalancer pool with {' and '.join(encapsulated)} ({why})",
                              pool.resource, ctx.at(pool, "spec", _encapsulation_field(pool)), hint,
                              subject="encapsulation")
        if pool.spec.get("disableBGPExport") is True:
            yield ctx.finding(
                f"{pool.resource}: LoadBalancer pool with disableBGPExport: true (Calico: LoadBalancer IP "
                "pools cannot disable BGP export)", pool.resource, ctx.at(pool, "spec", "disableBGPExport"),
                "remove disableBGPExport: service addresses must be advertised", subject="bgp")
        operator = pool.origin == "operator"
        selector = (pool.raw if operator else pool.spec).get("nodeSelector")
        if isinstance(selector, str) and selector != "all()" and not (selector == "" and operator):
            if selector_problem(selector):
                continue  # selector-invalid reports it
            note = (" (an empty string is not defaulted by the CRD; calicoctl would accept it)"
                    if selector == "" else "")
            yield ctx.finding(
                f"{pool.resource}: LoadBalancer pool with nodeSelector {selector!r}{note} (Calico: IP Pool "
                "with AllowedUse LoadBalancer must have nodeSelector set to all())", pool.resource,
                ctx.at(pool, "spec", "nodeSelector"), "set nodeSelector: all() or leave it out",
                subject="nodeSelector")


def _encapsulation_field(pool: Pool) -> str:
    """The enabled one of ipipMode and vxlanMode (an operator pool's are both its encapsulation)."""
    return "ipipMode" if pool.spec.get("ipipMode") in ENABLED else "vxlanMode"
