"""Calico parity: the rejections Calico makes on a pool, a reservation or an operator pool that no other
rule covers, and the verdicts a cluster dump records in a pool's status.

Read from projectcalico/calico master 87c15906 and release tags v3.26.0 to v3.32.1: the IPPool CEL rules
(`api/pkg/apis/projectcalico/v3/ippool.go`), the Go validator (`libcalico-go/lib/validator/v3/validator.go`
`validateIPPoolSpec`) and clientv3 (`libcalico-go/lib/clientv3/ippool.go`), the IPPool status controller
(`kube-controllers/pkg/controllers/ippool/pool_controller.go`); and from tigera/operator master 40788b9b
(`pkg/controller/ippool/validation.go`, `pkg/controller/installation/validation.go`). Messages quote
Calico's own reason. A fault is reported by one rule only: types and enum spellings are schema-invalid's,
selector syntax is selector-invalid's, so the rules here skip what those report.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from ..model import Finding, Pool
from .base import Context, rule
from .fields import ENABLED, selector_problem

LOAD_BALANCER = "LoadBalancer"
LINK_LOCAL = {4: ipaddress.ip_network("169.254.0.0/16"), 6: ipaddress.ip_network("fe80::/10")}


def _uses(pool: Pool) -> list[str]:
    """allowedUses as written (strings only); [] when absent or not a list."""
    uses = pool.spec.get("allowedUses")
    return [u for u in uses if isinstance(u, str)] if isinstance(uses, list) else []


@rule("load-balancer-invalid", "error", "A LoadBalancer pool with other uses, encapsulation, "
      "disableBGPExport or a nodeSelector other than all()",
      calico="calicoctl and the Calico API server since v3.30 (validator/v3); the IPPool CRD's CEL rules "
             "(other uses and encapsulation since v3.32.0, the rest since v3.33); the operator "
             "(ValidatePools)",
      scope="object")
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
        uses = _uses(pool)
        if LOAD_BALANCER not in uses:
            continue
        others = sorted({u for u in uses if u in ("Workload", "Tunnel")})
        if others:
            yield ctx.finding(
                f"{pool.resource}: allowedUses combines LoadBalancer with {', '.join(others)} (Calico: "
                "LoadBalancer cannot be combined with Workload or Tunnel allowed uses)", pool.resource,
                pool.source, "use a separate pool for LoadBalancer addresses", subject="uses")
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
                              pool.resource, pool.source, hint, subject="encapsulation")
        if pool.spec.get("disableBGPExport") is True:
            yield ctx.finding(
                f"{pool.resource}: LoadBalancer pool with disableBGPExport: true (Calico: LoadBalancer IP "
                "pools cannot disable BGP export)", pool.resource, pool.source,
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
                pool.source, "set nodeSelector: all() or leave it out", subject="nodeSelector")


@rule("tunnel-namespace-selector", "error", "A pool that gives Tunnel addresses has a namespaceSelector",
      calico="calicoctl and the Calico API server since v3.31 (validator/v3, after clientv3 defaults an "
             "empty allowedUses to [Workload, Tunnel]); the IPPool CRD's CEL rule since v3.33 (explicit "
             "Tunnel)", scope="object")
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
        uses = _uses(pool)
        written = isinstance(pool.spec.get("allowedUses"), list) and bool(pool.spec.get("allowedUses"))
        if written and "Tunnel" not in uses:
            continue
        state = "empty" if "allowedUses" in pool.spec else "not set"
        how = ("allowedUses includes Tunnel" if written else f"allowedUses is {state}, and calicoctl and the "
               "Calico API server default it to [Workload, Tunnel]")
        yield ctx.finding(
            f"{pool.resource}: namespaceSelector {pool.namespace_selector!r} while {how} (Calico: IP Pool "
            "with AllowedUse Tunnel cannot have namespaceSelector specified - tunnel IPs are not namespaced "
            "resources)", pool.resource, pool.source,
            "set allowedUses: [Workload] on a pool with a namespaceSelector")


@rule("cidr-link-local", "error", "The pool lies in or contains the link-local range",
      calico="calicoctl and the Calico API server, all versions (validator/v3 and clientv3: 'IP pool "
             "range overlaps with IPv4 Link Local range'); the IPPool CRD's CEL rules since v3.33. The "
             "operator does not check it, but Calico rejects the pool it writes", scope="object")
def cidr_link_local(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks that the pool neither lies in nor contains `169.254.0.0/16` (IPv4) or `fe80::/10` (IPv6):
    `169.254.5.0/24` and `fe80::/120` lie in it, `169.254.0.0/15`, `128.0.0.0/1` and `fe00::/8` contain it.

    ## Why is this bad?
    Calico rejects the pool ("IPPool CIDR overlaps with IPv4 link local range 169.254.0.0/16"):
    link-local addresses carry node-local traffic such as the cloud metadata service at
    169.254.169.254, and every node already uses them on every interface.

    ## Example
    ```yaml
    spec:
      cidr: 169.254.0.0/16
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 10.244.0.0/16
    ```
    """
    for pool in ctx.pools():
        net = pool.network
        if net is None:
            continue
        link_local = LINK_LOCAL[net.version]
        if net.overlaps(link_local):
            yield ctx.finding(
                f"{pool.describe()} overlaps {link_local} (Calico: IPPool CIDR overlaps with "
                f"{'IPv4' if net.version == 4 else 'IPv6'} link local range {link_local})", pool.resource,
                pool.source, "choose a private range such as 10.0.0.0/8 or fd00::/8")


@rule("legacy-field-set", "error", "A legacy APIv1 field (ipip, nat-outgoing) is set on an IPPool",
      calico="calicoctl and the Calico API server up to v3.31 (validator/v3 tags mustBeNil, mustBeFalse); "
             "v3.32.0 removed the fields, so newer Calico no longer knows them", scope="object")
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
                pool.source, "use ipipMode: Always, CrossSubnet or Never", subject="ipip")
        if pool.spec.get("nat-outgoing") is True:
            yield ctx.finding(
                f"{pool.resource}: spec.nat-outgoing is the legacy APIv1 field (Calico up to v3.31: failed "
                "to validate Field: NATOutgoingV1 because of Tag: mustBeFalse; v3.32+ no longer knows it)",
                pool.resource, pool.source, "use natOutgoing: true", subject="nat-outgoing")


@rule("operator-pool-invalid", "error", "An Installation pool that the operator refuses for its CNI or IPAM "
      "plugin", calico="the tigera operator (pkg/controller/ippool/validation.go ValidatePools and "
      "pkg/controller/installation/validation.go); Calico itself never sees the pool", scope="object")
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
        load_balancer = LOAD_BALANCER in _uses(pool)
        encapsulation = pool.raw.get("encapsulation")
        if settings.cni_type != "Calico":
            selector = pool.raw.get("nodeSelector")
            if (isinstance(selector, str) and selector not in ("", "all()") and not load_balancer
                    and not selector_problem(selector)):
                yield ctx.finding(
                    f"{pool.resource}: nodeSelector {selector!r} with CNI plugin {settings.cni_type} (the "
                    f"operator: IP pool nodeSelector ({selector}) should be 'all()' when using non-Calico "
                    "CNI plugin)", pool.resource, pool.source, "remove nodeSelector", subject="nodeSelector")
            ipv6_ipip = pool.version == 6 and encapsulation in ("IPIP", "IPIPCrossSubnet")
            if encapsulation not in (None, "", "None") and not load_balancer and not ipv6_ipip:
                yield ctx.finding(
                    f"{pool.resource}: encapsulation {encapsulation} with CNI plugin {settings.cni_type} "
                    f"(the operator: {encapsulation} is invalid for ipPool.encapsulation when using "
                    "non-Calico CNI, should be None)", pool.resource, pool.source, "set encapsulation: None",
                    subject="encapsulation")
        elif settings.ipam_type == "HostLocal" and encapsulation in ("VXLAN", "VXLANCrossSubnet"):
            yield ctx.finding(
                f"{pool.resource}: encapsulation {encapsulation} with HostLocal IPAM (the operator: "
                f"{encapsulation} is invalid for ipPool.encapsulation with Calico CNI and HostLocal IPAM)",
                pool.resource, pool.source, "use IPIP or None, or Calico IPAM", subject="encapsulation")


@rule("pool-status-unallocatable", "error", "The cluster marks the pool Allocatable=False (CIDROverlap or "
      "another reason)",
      calico="kube-controllers' IPPool controller sets the condition (v3.32+, projectcalico.org/v3 CRD "
             "mode); Calico IPAM (clientv3 filterIPPool) then skips the pool")
def pool_status_unallocatable(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reads `status.conditions` of pools in a cluster dump (`kubectl get ippools -o yaml`) and reports a
    condition `type: Allocatable, status: "False"` with its reason and message: `CIDROverlap` (the pool
    overlaps a pool that was active first), `Terminating`, or any other reason. `PoolDisabled` on a pool
    with `disabled: true` is what was asked for and is not reported.

    ## Why is this bad?
    This is Calico's own verdict: IPAM skips the pool ("Skipping IP pool with condition
    Allocatable=false"), so the nodes it was meant for get no address from it, although the manifest looks
    fine and admission accepted it. An error, because the pool does not do what its spec says; for
    `CIDROverlap` kube-controllers keeps the older pool running and disables this one.

    ## Example
    ```yaml
    status:
      conditions:
      - type: Allocatable
        status: "False"
        reason: CIDROverlap
        message: CIDR overlaps another pool; disabled to prevent IP allocation conflicts.
    ```

    ## Use instead
    Give the pool a range of its own (see `pool-overlap`), or delete it following Calico's IP pool
    migration guide.
    """
    for pool in ctx.pools():
        condition = pool.unallocatable
        if condition is None:
            continue
        reason = str(condition.get("reason") or "no reason given")
        if reason == "PoolDisabled" and pool.disabled:
            continue
        message = str(condition.get("message") or "").strip()
        overlap = reason == "CIDROverlap"
        others = [p for p in ctx.view.overlapping(pool) if p.name != pool.name] if overlap else []
        seen = f"; it overlaps {', '.join(p.describe() for p in others[:3])}" if others else ""
        yield ctx.finding(
            f"{pool.describe()}: the cluster reports Allocatable=False, reason {reason}"
            f"{': ' + message if message else ''}; Calico IPAM gives no address from it{seen}",
            pool.resource, pool.source,
            "give the pool a range of its own, or delete it following Calico's IP pool migration guide"
            if reason == "CIDROverlap" else "see the pool's status in the cluster", related=others)


@rule("pool-nearly-full", "warning", "The cluster marks the pool AddressSpaceNearlyFull",
      scope="object")
def pool_nearly_full(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reports a pool in a cluster dump whose `status.conditions` has a condition of type (or reason)
    `AddressSpaceNearlyFull` that is not `status: "False"`, with the condition's message. Calico itself
    sets no such condition (open-source Calico's only pool condition is `Allocatable`, as of master
    87c15906): when it is there, another controller put it there, and its verdict is passed on.

    ## Why is this bad?
    A pool that runs out of addresses leaves new pods in ContainerCreating; with `strictAffinity` or a
    block limit reached, sooner than its address count suggests.

    ## Example
    ```yaml
    status:
      conditions:
      - type: AddressSpaceNearlyFull
        status: "True"
        message: 85% of addresses allocated
    ```

    ## Use instead
    Add a pool for the same nodes (a new range), or widen the address plan before the pool is full.
    """
    for pool in ctx.pools():
        for condition in pool.status_conditions:
            marked = "AddressSpaceNearlyFull" in (condition.get("type"), condition.get("reason"))
            if not marked or condition.get("status") == "False":
                continue
            message = str(condition.get("message") or "").strip()
            yield ctx.finding(
                f"{pool.describe()}: the cluster reports AddressSpaceNearlyFull"
                f"{': ' + message if message else ''}", pool.resource, pool.source,
                "add a pool for these nodes before this one is full")
            break

