"""Rules that the policy file turns on: the organisation's address plan, dual stack and topology labels.

Calico checks none of these: they encode what a cluster's neighbours need (the service CIDR, the node subnets,
a VPN, on-premises ranges) and how the organisation labels its nodes. Each rule names in `needs_config` the
policy key that turns it on and yields nothing while that key is absent. Ranges are looked up in an
`AddressIndex`, never compared pairwise.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterator

from ..addresses import AddressIndex, intersection
from ..analysis import selector_of
from ..config import ReservedRange
from ..model import Finding, IPNet, Source, family_name
from .base import Context, rule

FAMILIES = (4, 6)


@rule("cidr-not-allowed", "error", "A pool outside every range that the policy's allowed-cidrs permits",
      scope="object", needs_config="allowed-cidrs")
def cidr_not_allowed(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    With `allowed-cidrs` in the policy file, checks that every pool's CIDR lies inside one of those
    supernets. Disabled pools are checked too: their addresses stay in use until the pool is deleted. A
    dual-stack cluster lists a range of each family; a pool of a family the list lacks is reported.

    ## Why is this bad?
    The pod network was carved out of the organisation's address plan for a reason: ranges outside it may
    be routed elsewhere, announced over BGP to the wrong peers, or collide with a network that is only
    allocated later. Calico itself accepts any range.

    ## Example
    ```yaml
    # .ippool-validator.yaml: allowed-cidrs: [10.244.0.0/16]
    spec:
      cidr: 10.250.0.0/24
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 10.244.8.0/24
    ```
    """
    allowed = ctx.config.allowed_cidrs
    if not allowed:
        return
    index: AddressIndex[IPNet] = AddressIndex((net, net) for net in allowed)
    for pool in ctx.pools():
        net = pool.network
        if net is None or next(index.supernets(net), None) is not None:
            continue
        family = [str(a) for a in allowed if a.version == net.version]
        inside = sorted({str(sub) for sub in index.subnets(net)})
        if not family:
            why = f"allowed-cidrs has no {family_name(net.version)} range"
        elif inside:
            why = f"only part of it ({', '.join(inside)}) is inside allowed-cidrs ({', '.join(family)})"
        else:
            why = f"it lies outside allowed-cidrs ({', '.join(family)})"
        yield ctx.finding(f"{pool.describe()} is not an allowed range: {why}", pool.resource, pool.source,
                          "choose a range inside allowed-cidrs, or extend allowed-cidrs in the policy file")


@rule("cidr-conflicts-reserved", "error", "A pool overlaps a range the policy's reserved-cidrs keeps free",
      scope="object", needs_config="reserved-cidrs")
def cidr_conflicts_reserved(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    With `reserved-cidrs` in the policy file, reports every pool whose CIDR shares an address with one of
    those ranges, quoting the reason given for the range. Disabled pools are checked too.

    ## Why is this bad?
    A pod address inside the service CIDR, a node subnet, a VPN or an on-premises network makes traffic to
    that network go to the pod instead (or the other way round): connections break in ways that only show
    under load or from some nodes. Kubernetes' kubeadm guide warns that the pod network must not overlap
    any host network; Calico does not check it.

    ## Example
    ```yaml
    # reserved-cidrs: [{cidr: 10.96.0.0/12, reason: Kubernetes service CIDR}]
    spec:
      cidr: 10.96.0.0/16
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 10.244.0.0/16
    ```
    """
    reserved = ctx.config.reserved_cidrs
    if not reserved:
        return
    index: AddressIndex[ReservedRange] = AddressIndex((r.network, r) for r in reserved)
    for pool in ctx.pools():
        net = pool.network
        if net is None:
            continue
        for hit in sorted(index.overlapping(net), key=lambda r: (r.network.version, r.network)):
            shared = intersection(net, hit.network)
            how = "lies inside" if shared == net else "contains"
            yield ctx.finding(
                f"{pool.describe()} {how} reserved range {hit.network} ({hit.reason}): {shared} is "
                f"reserved in the policy file", pool.resource, pool.source,
                f"move the pool out of {hit.network}", subject=str(hit.network))


@rule("dual-stack-missing", "error", "require-dual-stack is set but a node has no enabled pool of a family",
      needs_config="require-dual-stack")
def dual_stack_missing(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    With `require-dual-stack: true` in the policy file, checks that the cluster has enabled workload
    pools of both IP families. With nodes known (Node manifests, `--nodes`, `--kubeconfig`), it reports
    each node that gets no address of a family because no enabled workload pool of that family exists;
    a node that pools of the family exist for but do not select is `node-unselected`'s to report. Without
    nodes, it reports the missing family once, at the policy line that requires it.

    ## Why is this bad?
    In a dual-stack cluster every pod needs an IPv4 and an IPv6 address: Calico's IPAM asks for both, and a
    pod on a node without a pool of one family fails to start with an IPAM error.

    ## Example
    ```yaml
    # require-dual-stack: true;  pools: default-ipv4 (10.244.0.0/16) only
    ```

    ## Use instead
    Add an enabled IPv6 pool that selects every node (`fd00:10:244::/56`, `nodeSelector: all()`).
    """
    if not ctx.config.require_dual_stack:
        return
    missing = [v for v in FAMILIES if not ctx.view.workload_pools.get(v)]
    if not missing:
        return
    if not ctx.cluster.nodes_known:
        if ctx.cluster_wide:
            line = ctx.config.lines.get("require-dual-stack", 1)
            for version in missing:
                yield ctx.finding(
                    f"require-dual-stack is set but there is no enabled {family_name(version)} pool for "
                    f"workloads: no node can get an {family_name(version)} address",
                    None, Source(ctx.config.source, line) if ctx.config.source else None,
                    f"add an enabled {family_name(version)} pool with nodeSelector: all()",
                    subject=family_name(version))
        return
    names = " and ".join(family_name(v) for v in missing)
    for node in ctx.nodes():
        yield ctx.finding(
            f"{node.resource} gets no {names} address: there is no enabled {names} pool for workloads, "
            f"and the policy requires dual stack", node.resource, node.source,
            f"add an enabled {names} pool that selects this node", subject=names)


@rule("selector-label-unknown", "warning", "A nodeSelector uses a label key that topology-labels lacks",
      scope="object", needs_config="topology-labels")
def selector_label_unknown(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    With `topology-labels` in the policy file (label keys, `*` as a wildcard), reports pools whose
    `nodeSelector` uses any other label key, with the closest allowed key when the key looks like a typo.

    ## Why is this bad?
    Pools are meant to follow the organisation's topology labels (zone, rack). A selector on another key
    (`topology.kubernetes.io/zones`, `Rack`, a hostname) selects no node or the wrong ones, and it breaks
    silently when nodes are relabelled; Calico accepts any key.

    ## Example
    ```yaml
    # topology-labels: [topology.kubernetes.io/zone, rack]
    spec:
      nodeSelector: zone == "eu-west-1a"
    ```

    ## Use instead
    ```yaml
    spec:
      nodeSelector: topology.kubernetes.io/zone == "eu-west-1a"
    ```
    """
    allowed = ctx.config.topology_labels
    if allowed is None:
        return
    exact = set(allowed)
    patterns = [p for p in allowed if "*" in p]
    for pool in ctx.pools():
        selector = selector_of(pool)
        if selector is None:
            continue
        unknown = sorted(k for k in selector.keys
                         if k not in exact and not any(fnmatch.fnmatchcase(k, p) for p in patterns))
        if not unknown:
            continue
        guesses = {k: difflib.get_close_matches(k, sorted(exact - set(patterns)), n=1) for k in unknown}
        hint = "; ".join(f"did you mean {g[0]!r} for {k!r}?" for k, g in guesses.items() if g)
        listed = ", ".join(allowed) if allowed else "none"
        yield ctx.finding(
            f"{pool.resource} nodeSelector {pool.node_selector!r} uses label key"
            f"{'s' * (len(unknown) > 1)} {', '.join(repr(k) for k in unknown)} that topology-labels does not "
            f"list (allowed: {listed})", pool.resource, pool.source,
            hint or "use a topology label, or add the key to topology-labels in the policy file")
