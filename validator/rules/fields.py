"""Rules about one pool's own fields: the CIDR, block size, encapsulation, selectors and name.

Calico's own checks are read from projectcalico/calico `api/pkg/apis/projectcalico/v3/ippool.go` (the CEL
rules on IPPoolSpec) and `libcalico-go/lib/validator/v3/validator.go` (validateIPPoolSpec); each rule's
`calico=` says which component rejects the same thing.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterator

from ..model import BLOCK_SIZE_RANGE, Finding, Pool, family_name
from ..selector import SelectorError, parse_selector
from .base import Context, rule

MAX_CIDR_LENGTH = 48
MAX_SELECTOR_LENGTH = 1024
ENABLED = ("Always", "CrossSubnet")

CALICO_CIDR = ("calicoctl and the Calico API server, all versions (libcalico-go clientv3 ippool.go: "
               "'IPPool CIDR must be a valid subnet', 'is not strictly masked'); the IPPool CRD since "
               "v3.32.0 (format cidr, maxLength 48) and its CEL rule since v3.33 ('IPPool CIDR must be "
               "strictly masked'); the operator (ValidatePools: 'IP pool CIDR is invalid'; it masks host "
               "bits silently)")


@rule("cidr-invalid", "error",
      "The pool's cidr is empty, not a CIDR, longer than 48 characters, or has host bits set",
      calico=CALICO_CIDR, scope="object")
def cidr_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks that `spec.cidr` is a network in CIDR notation (`10.244.0.0/16`), strictly masked (no host
    bits set), at most 48 characters. A missing or non-string `cidr` is schema-invalid's to report.
    For the operator's Installation, host bits are not a fault: the operator masks the CIDR itself.

    ## Why is this bad?
    Calico refuses such a pool ("IPPool CIDR must be a valid subnet"; a bare address such as `10.0.0.1`
    is not a pool, even though Calico's stand-alone validator would read it as a /32; `10.244.1.0/16`
    has host bits set and Calico wants it "strictly masked"; the CRD allows 48 characters). A GitOps
    controller then loops on a failing apply, and the nodes it was meant for get no addresses.

    ## Example
    ```yaml
    spec:
      cidr: 10.244.1.0/16
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 10.244.0.0/16
    ```
    """
    for pool in ctx.pools():
        text = pool.spec.get("cidr")
        if not isinstance(text, str):
            continue  # missing or of the wrong type: schema-invalid
        problem, hint = _cidr_problem(text)
        if problem:
            yield ctx.finding(f"{pool.resource}: {problem}", pool.resource, pool.source, hint)


def _cidr_problem(text: str) -> tuple[str, str]:
    if text == "":
        return "spec.cidr is empty (Calico: IPPool CIDR must be specified)", \
            "set spec.cidr to a network such as 10.244.0.0/16"
    if len(text) > MAX_CIDR_LENGTH:
        return (f"spec.cidr is {len(text)} characters long; Calico's IPPool CRD allows at most "
                f"{MAX_CIDR_LENGTH}", "write the network in its short form, e.g. fd00:10::/64")
    if "/" not in text:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return (f"spec.cidr {text!r} is not a CIDR (Calico: IPPool CIDR must be a valid subnet)",
                    "write it as address/prefix, e.g. 10.244.0.0/16")
        return (f"spec.cidr {text!r} is a single address, not a network (Calico: IPPool CIDR must be a "
                "valid subnet)",
                f"write it with a prefix length, e.g. {address}/{address.max_prefixlen} for one address")
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return (f"spec.cidr {text!r} is not a CIDR (Calico: IPPool CIDR must be a valid subnet)",
                "write it as address/prefix, e.g. 10.244.0.0/16")
    try:
        ipaddress.ip_network(text, strict=True)
    except ValueError:
        return (f"spec.cidr {text!r} has host bits set (Calico: IPPool CIDR must be strictly masked)",
                f"did you mean {network}?")
    return "", ""


@rule("block-size-invalid", "error", "blockSize is outside the range Calico allows for the pool's IP family",
      calico="calicoctl and the Calico API server, all versions (clientv3 ippool.go: 'IPv4 block size must "
             "be between 20 and 32'); the IPPool CRD (0..128 since v3.32.0, CEL per family since v3.33); the "
             "operator (ValidatePools), which also rejects an explicit 0", scope="object")
def block_size_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks `spec.blockSize`: absent or `0` means the default (26 for IPv4, 122 for IPv6); any other value
    must be an integer from 20 to 32 for an IPv4 pool, or from 116 to 128 for an IPv6 pool. In the
    operator's Installation only an absent `blockSize` is defaulted: the operator rejects `blockSize: 0`.
    A value that is not an integer is schema-invalid's to report.

    ## Why is this bad?
    Calico rejects the pool ("blockSize must be between 20 and 32 for IPv4 pools, and between 116 and
    128 for IPv6 pools"). The block size also decides how many addresses each node claims at a time;
    a value outside the range is usually an IPv4 size on an IPv6 pool or the reverse.

    ## Example
    ```yaml
    spec:
      cidr: fd00:10:244::/56
      blockSize: 26
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: fd00:10:244::/56
      blockSize: 122
    ```
    """
    for pool in ctx.pools():
        raw = pool.spec.get("blockSize")
        if raw is None or isinstance(raw, bool) or not isinstance(raw, int):
            continue  # absent is the default; a wrong type is schema-invalid's to report
        if raw == 0 and pool.origin != "operator":
            continue
        if pool.version is None:
            if not 0 <= raw <= 128:
                yield ctx.finding(f"{pool.resource}: blockSize {raw} is outside 0..128 (Calico's IPPool CRD)",
                                  pool.resource, pool.source)
            continue
        low, high = BLOCK_SIZE_RANGE[pool.version]
        if not low <= raw <= high:
            default = "/26" if pool.version == 4 else "/122"
            family = family_name(pool.version)
            reason = (f"the operator: {family} pool block size must be greater than {low - 1} and less than "
                      f"or equal to {high}" if pool.origin == "operator" else
                      "Calico: blockSize must be between 20 and 32 for IPv4 pools, and between 116 and 128 "
                      "for IPv6 pools")
            yield ctx.finding(
                f"{pool.resource}: blockSize {raw} is outside {low}..{high} for an {family} pool ({reason})",
                pool.resource, pool.source,
                f"use a block size from {low} to {high}, or leave it out for the default {default}")


@rule("pool-smaller-than-block", "error", "An enabled pool's prefix is longer than its block size",
      calico="calicoctl and the Calico API server, all versions (validator/v3 and clientv3: 'IP pool size is "
             "too small'); the IPPool CRD's CEL rule since v3.33; the operator (ValidatePools), even for a "
             "pool with disableNewAllocations", scope="object")
def pool_smaller_than_block(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks that an enabled pool holds at least one block: its prefix length must not be longer than its
    block size (a `/28` pool cannot hold one `/26` block; without `blockSize` the default /26 or /122
    counts). Disabled pools are exempt, as in Calico; the operator checks its pools even when they have
    `disableNewAllocations: true`, and so does this rule for them.

    ## Why is this bad?
    Calico rejects it ("IP pool size is too small"): IPAM hands out whole blocks, and there is none.

    ## Example
    ```yaml
    spec:
      cidr: 10.0.0.0/28
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 10.0.0.0/28
      blockSize: 28
    ```
    """
    for pool in ctx.pools():
        operator = pool.origin == "operator"
        if pool.disabled and not operator or pool.network is None or pool.block_size is None:
            continue
        if operator and pool.spec.get("blockSize") == 0:
            continue  # the operator rejects blockSize 0 itself: block-size-invalid
        if pool.network.prefixlen > pool.block_size:
            yield ctx.finding(
                f"{pool.describe()}: the pool is smaller than one /{pool.block_size} block (Calico: IP pool "
                "size is too small for use with Calico IPAM. It must be equal to or greater than the block "
                "size)", pool.resource, pool.source,
                f"set blockSize to at least {pool.network.prefixlen}, or widen the cidr")


@rule("encapsulation-invalid", "error", "IPIP on an IPv6 pool, or IPIP and VXLAN both enabled",
      calico="calicoctl and the Calico API server, all versions (clientv3: 'Cannot enable both VXLAN and "
             "IPIP', 'IPIP is not supported on an IPv6 IP pool'); the IPPool CRD's CEL rules since v3.32.0; "
             "the operator for IPIP on IPv6", scope="object")
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
                              pool.source, "set one of them to Never", subject="both")
        if ipip in ENABLED and pool.version == 6:
            yield ctx.finding(f"{pool.describe()}: ipipMode {ipip} on an IPv6 pool (Calico: IPIP is not "
                              "supported on IPv6 pools; IPIP carries IPv4 only)",
                              pool.resource, pool.source, "use vxlanMode for IPv6, or ipipMode: Never",
                              subject="ipv6")


RESERVED_RANGES = [
    (ipaddress.ip_network("127.0.0.0/8"), "loopback"),
    (ipaddress.ip_network("::1/128"), "loopback"),
    (ipaddress.ip_network("224.0.0.0/4"), "multicast"),
    (ipaddress.ip_network("ff00::/8"), "multicast"),
    (ipaddress.ip_network("0.0.0.0/8"), "'this network' (RFC 1122)"),
    (ipaddress.ip_network("::/128"), "unspecified"),
]


@rule("cidr-reserved", "error", "The pool overlaps loopback, multicast or unspecified addresses",
      scope="object")
def cidr_reserved(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks that the pool neither lies in nor contains a range that pods must never be given: loopback
    (`127.0.0.0/8`, `::1`), multicast (`224.0.0.0/4`, `ff00::/8`) and `0.0.0.0/8` / `::`. Calico itself
    accepts all of these (its only range check is link-local, see `cidr-link-local`): this is
    ippool-validator's own check.

    ## Why is this bad?
    A pod given a loopback or multicast address cannot be reached at all, and `0.0.0.0/8` is not a
    source address on the wire.

    ## Example
    ```yaml
    spec:
      cidr: 224.0.0.0/16
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 10.244.0.0/16
    ```
    """
    for pool in ctx.pools():
        if pool.network is None:
            continue
        for reserved, what in RESERVED_RANGES:
            if reserved.version == pool.network.version and pool.network.overlaps(reserved):
                who = "Calico accepts it, but pods there are unreachable"
                yield ctx.finding(f"{pool.describe()} overlaps the {what} range {reserved} ({who})",
                                  pool.resource, pool.source, "choose a private range such as 10.0.0.0/8 or "
                                  "fd00::/8 that avoids it", subject=str(reserved))


@rule("selector-invalid", "error", "A nodeSelector or namespaceSelector that Calico cannot use",
      calico="calicoctl and the Calico API server parse selectors, all versions (validator/v3 'selector' "
             "tag; CRD installs without the API server store a broken selector); global( rejected since "
             "v3.31 (Go) and by the CRD's CEL since v3.33; maxLength 1024 in the CRD since v3.33",
      scope="object")
def selector_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Parses `nodeSelector` and `namespaceSelector` with Calico's selector grammar and checks that they are
    at most 1024 characters and do not contain `global(` anywhere. A selector that is not a string is
    schema-invalid's to report.

    ## Why is this bad?
    calicoctl and the Calico API server reject the pool; applied as a CRD, a broken selector is stored
    silently, and then it is worse than selecting nothing: Calico IPAM evaluates every enabled,
    Automatic pool's selectors for each pod (libcalico-go ipam.go `determinePools`) and returns the
    parse error for the whole request, so automatic address assignment of that IP family fails on every
    node. `global()` only has a meaning in policy rules; Calico rejects it in pool selectors.

    ## Example
    ```yaml
    spec:
      nodeSelector: rack == 0
    ```

    ## Use instead
    ```yaml
    spec:
      nodeSelector: rack == "0"
    ```
    """
    for pool in ctx.pools():
        for field in ("nodeSelector", "namespaceSelector"):
            text = pool.spec.get(field)
            if not isinstance(text, str):
                continue  # absent, or of the wrong type: schema-invalid
            problem = selector_problem(text, field)
            if not problem:
                continue
            if problem.startswith("does not parse") and not pool.disabled and pool.automatic:
                family = family_name(pool.version) if pool.version else "its IP family"
                where = "every node" if field == "nodeSelector" else "every node its nodeSelector selects"
                problem += (f"; until it is fixed, Calico IPAM fails every automatic {family} assignment "
                            f"on {where}")
            hint = ("use all() to select every node" if "global(" in problem else
                    'quote values and use Calico syntax, e.g. rack == "0" or has(zone)')
            yield ctx.finding(f"{pool.resource}: spec.{field} {problem}", pool.resource, pool.source, hint,
                              subject=field)


def selector_problem(text: str, field: str = "nodeSelector") -> str:
    """Why Calico would reject this pool selector, or "" (load-balancer-invalid defers to this)."""
    if len(text) > MAX_SELECTOR_LENGTH:
        return (f"is {len(text)} characters long; Calico's IPPool CRD allows at most {MAX_SELECTOR_LENGTH}")
    try:
        parse_selector(text)
    except SelectorError as err:
        return f"does not parse: {text!r}: {err} (Calico rejects it: failed to validate Field: selector)"
    if "global(" in text:
        return (f"{text!r} contains global( (Calico: global() selector is not valid for IPPool {field} - use "
                "all() instead)")
    return ""


@rule("pool-name-duplicate", "error", "Two pools with the same name (the later one replaces the earlier)")
def pool_name_duplicate(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Finds pools that share a name, across `projectcalico.org/v3`, `crd.projectcalico.org/v1` and the
    operator's Installation (which creates IPPools named after its entries).

    ## Why is this bad?
    They are one object in the cluster: whichever is applied last silently replaces the other, so the
    cluster does not have the pools the repository shows. If the two are a kustomize base and its overlay,
    lint the output of `kustomize build` instead of the folders.

    ## Example
    Two files that both define `IPPool/default-ipv4-ippool` with different CIDRs.

    ## Use instead
    One definition per pool name.
    """
    by_name: dict[str, list[Pool]] = defaultdict(list)
    if ctx.focus is not None:  # the focus's names only, looked up: a webhook request costs its own pools
        by_name.update((p.name, ctx.view.pools_named(p.name)) for p in ctx.pools() if p.name)
    else:
        for pool in ctx.cluster.pools:
            if pool.name:
                by_name[pool.name].append(pool)
    for name, pools in by_name.items():
        if len(pools) < 2:
            continue
        first = pools[0]
        for pool in pools[1:]:
            yield ctx.finding(
                f"{pool.resource}: pool name {name!r} is also defined at {first.source} "
                f"({first.resource.api_version}); one replaces the other in the cluster",
                pool.resource, pool.source, "rename one pool or remove the duplicate", related=[first])

