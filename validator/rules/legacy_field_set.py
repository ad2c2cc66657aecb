"""The `legacy-field-set` rule: APIv1 fields on an IPPool.

Calico's own check: `libcalico-go/lib/validator/v3/validator.go`, clientv3 `ippool.go` and the IPPool CEL
rules, projectcalico/calico master 87c15906 and v3.26.0 to v3.32.1.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding
from .base import Context, rule


@rule("legacy-field-set", "error", "A legacy APIv1 field (ipip, nat-outgoing) is set on an IPPool",
      calico="calicoctl and the Calico API server up to v3.31 (validator/v3 tags mustBeNil, mustBeFalse); "
             "v3.32.0 removed the fields, so newer Calico no longer knows them", scope="object",
      reads=("pools",))
def legacy_field_set(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Finds IPPools that set the APIv1 fields `ipip` (any object, even `{}`) or `nat-outgoing: true`.
    `nat-outgoing: false` and `ipip: null` are accepted, as by Calico.

    ## Why is this bad?
    Calico up to v3.31 rejects them ("Setting this field is not allowed, this field is for internal use
    only": failed to validate Field: IPIP because of Tag: mustBeNil). From v3.32.0 they are unknown
    fields: kubectl's strict field validation refuses them, other clients drop them, and the IPIP or
    outgoing NAT they ask for is never turned on.

    ## Example
    ```yaml
    spec:
      cidr: 10.244.0.0/16
      ipip: {enabled: true, mode: always}
      nat-outgoing: true
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 10.244.0.0/16
      ipipMode: Always
      natOutgoing: true
    ```
    """
    for pool in ctx.pools():
        if pool.origin == "operator":
            continue
        if isinstance(pool.spec.get("ipip"), dict):
            yield ctx.finding(
                f"{pool.resource}: spec.ipip is the legacy APIv1 field (Calico up to v3.31: failed to "
                "validate Field: IPIP because of Tag: mustBeNil; v3.32+ no longer knows it)", pool.resource,
                ctx.at(pool, "spec", "ipip"), "use ipipMode: Always, CrossSubnet or Never", subject="ipip")
        if pool.spec.get("nat-outgoing") is True:
            yield ctx.finding(
                f"{pool.resource}: spec.nat-outgoing is the legacy APIv1 field (Calico up to v3.31: failed "
                "to validate Field: NATOutgoingV1 because of Tag: mustBeFalse; v3.32+ no longer knows it)",
                pool.resource, ctx.at(pool, "spec", "nat-outgoing"), "use natOutgoing: true",
                subject="nat-outgoing")
