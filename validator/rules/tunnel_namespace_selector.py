"""The `tunnel-namespace-selector` rule: Tunnel addresses with a namespaceSelector.

Calico's own check: `libcalico-go/lib/validator/v3/validator.go`, clientv3 `ippool.go` and the IPPool CEL
rules, projectcalico/calico master 87c15906 and v3.26.0 to v3.32.1.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding
from .base import Context, rule
from .common import uses_written


@rule("tunnel-namespace-selector", "error", "A pool that gives Tunnel addresses has a namespaceSelector",
      calico="calicoctl and the Calico API server since v3.31 (validator/v3, after clientv3 defaults an "
             "empty allowedUses to [Workload, Tunnel]); the IPPool CRD's CEL rule since v3.33 (explicit "
             "Tunnel)", scope="object", reads=("pools",))
def tunnel_namespace_selector(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Finds pools with a non-empty `namespaceSelector` whose `allowedUses` include `Tunnel`, including
    pools that leave `allowedUses` out: calicoctl and the Calico API server fill in the default
    `[Workload, Tunnel]` before they validate, so such a pool is rejected there (the CRD's own rule,
    which sees no default, lets it through on a CRD-only install).

    ## Why is this bad?
    Calico rejects it: "IP Pool with AllowedUse Tunnel cannot have namespaceSelector specified - tunnel
    IPs are not namespaced resources". A node's tunnel address belongs to no namespace, so the selector
    cannot apply to it.

    ## Example
    ```yaml
    spec:
      cidr: 10.50.0.0/16
      namespaceSelector: team == "payments"
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 10.50.0.0/16
      namespaceSelector: team == "payments"
      allowedUses: [Workload]
    ```
    """
    for pool in ctx.pools():
        if pool.origin == "operator" or not pool.namespace_selector:
            continue
        uses = uses_written(pool)
        written = isinstance(pool.spec.get("allowedUses"), list) and bool(pool.spec.get("allowedUses"))
        if written and "Tunnel" not in uses:
            continue
        state = "empty" if "allowedUses" in pool.spec else "not set"
        how = ("allowedUses includes Tunnel" if written else f"allowedUses is {state}, and calicoctl and the "
               "Calico API server default it to [Workload, Tunnel]")
        yield ctx.finding(
            f"{pool.resource}: namespaceSelector {pool.namespace_selector!r} while {how} (Calico: IP Pool "
            "with AllowedUse Tunnel cannot have namespaceSelector specified - tunnel IPs are not namespaced "
            "resources)", pool.resource, ctx.at(pool, "spec", "namespaceSelector"),
            "set allowedUses: [Workload] on a pool with a namespaceSelector")
