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

CALICO_CIDR = ("calicoctl and the Calico API server (validator/v3 validateIPPoolSpec); CRD CEL rules "
               "(ippool.go) in newer Calico")


@rule("cidr-invalid", "error", "The pool's cidr is missing, not a CIDR, or has host bits set",
      calico=CALICO_CIDR, scope="object")
def cidr_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks that `spec.cidr` is present and is a network in CIDR notation (`10.244.0.0/16`), strictly
    masked (no host bits set), at most 48 characters.

    ## Why is this bad?
    Calico refuses such a pool ("IPPool CIDR must be a valid subnet"; a bare address such as `10.0.0.1`
    is not a pool; `10.244.1.0/16` has host bits set and Calico wants it "strictly masked"). A GitOps
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
        problem, hint = _cidr_problem(text)
        if problem:
            yield ctx.finding(f"{pool.resource}: {problem}", pool.resource, pool.source, hint)


def _cidr_problem(text: object) -> tuple[str, str]:
    if text is None or text == "":
        return "spec.cidr is missing; every pool needs one", "set spec.cidr to a network such as 10.244.0.0/16"
    if not isinstance(text, str):
        return f"spec.cidr must be a string, not {type(text).__name__}", "quote the CIDR"
    if len(text) > MAX_CIDR_LENGTH:
        return f"spec.cidr is {len(text)} characters long; Calico allows at most {MAX_CIDR_LENGTH}", ""
    if "/" not in text:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return f"spec.cidr {text!r} is not a CIDR", "write it as address/prefix, e.g. 10.244.0.0/16"
        return (f"spec.cidr {text!r} is a single address, not a network",
                f"write it with a prefix length, e.g. {address}/{address.max_prefixlen} for one address")
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return f"spec.cidr {text!r} is not a CIDR", "write it as address/prefix, e.g. 10.244.0.0/16"
    try:
        ipaddress.ip_network(text, strict=True)
    except ValueError:
        return (f"spec.cidr {text!r} has host bits set (Calico wants it strictly masked)",
                f"did you mean {network}?")
    return "", ""


@rule("block-size-invalid", "error", "blockSize is outside the range Calico allows for the pool's IP family",
      calico="calicoctl and the Calico API server (validator/v3); CRD CEL rules in newer Calico", scope="object")
def block_size_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks `spec.blockSize`: absent or `0` means the default (26 for IPv4, 122 for IPv6); any other value
    must be an integer from 20 to 32 for an IPv4 pool, or from 116 to 128 for an IPv6 pool.

    ## Why is this bad?
    Calico rejects the pool. The block size also decides how many addresses each node claims at a time;
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
        if raw is None or raw == 0 and not isinstance(raw, bool):
            continue
        if isinstance(raw, bool) or not isinstance(raw, int):
            continue  # a wrong type is schema-invalid's to report
        if pool.version is None:
            if not 0 <= raw <= 128:
                yield ctx.finding(f"{pool.resource}: blockSize {raw} is outside 0..128", pool.resource,
                                  pool.source)
            continue
        low, high = BLOCK_SIZE_RANGE[pool.version]
        if not low <= raw <= high:
            yield ctx.finding(
                f"{pool.resource}: blockSize {raw} is outside {low}..{high}, the range Calico allows for "
                f"{family_name(pool.version)} pools", pool.resource, pool.source,
                f"use a block size from {low} to {high}, or leave it out for the default "
                f"{'/26' if pool.version == 4 else '/122'}")


@rule("pool-smaller-than-block", "error", "An enabled pool's prefix is longer than its block size",
      calico="calicoctl and the Calico API server (validator/v3: 'IP pool size is too small'); "
             "CRD CEL rules in newer Calico", scope="object")
def pool_smaller_than_block(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks that an enabled pool holds at least one block: its prefix length must not be longer than its
    block size (a `/28` pool cannot hold one `/26` block). Disabled pools are exempt, as in Calico.

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
        if pool.disabled or pool.network is None or pool.block_size is None:
            continue
        if pool.network.prefixlen > pool.block_size:
            yield ctx.finding(
                f"{pool.describe()}: the pool is smaller than one /{pool.block_size} block "
                "(Calico: IP pool size is too small)", pool.resource, pool.source,
                f"set blockSize to at least {pool.network.prefixlen}, or widen the cidr")


@rule("encapsulation-invalid", "error", "IPIP on an IPv6 pool, or IPIP and VXLAN both enabled",
      calico="calicoctl and the Calico API server (validator/v3); CRD CEL rules in newer Calico", scope="object")
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
            yield ctx.finding(f"{pool.resource}: ipipMode {ipip} and vxlanMode {vxlan} are both enabled; "
                              "Calico allows one encapsulation per pool", pool.resource, pool.source,
                              "set one of them to Never", subject="both")
        if ipip in ENABLED and pool.version == 6:
            yield ctx.finding(f"{pool.describe()}: ipipMode {ipip} on an IPv6 pool; IPIP carries IPv4 only",
                              pool.resource, pool.source, "use vxlanMode for IPv6, or ipipMode: Never",
                              subject="ipv6")


RESERVED_RANGES = [
    (ipaddress.ip_network("127.0.0.0/8"), "loopback", False),
    (ipaddress.ip_network("::1/128"), "loopback", False),
    (ipaddress.ip_network("169.254.0.0/16"), "link-local", True),
    (ipaddress.ip_network("fe80::/10"), "link-local", True),
    (ipaddress.ip_network("224.0.0.0/4"), "multicast", False),
    (ipaddress.ip_network("ff00::/8"), "multicast", False),
    (ipaddress.ip_network("0.0.0.0/8"), "'this network' (RFC 1122)", False),
    (ipaddress.ip_network("::/128"), "unspecified", False),
]


@rule("cidr-reserved", "error", "The pool overlaps loopback, link-local, multicast or unspecified addresses",
      calico="link-local only: calicoctl and the Calico API server (validator/v3), CRD CEL rules in newer "
             "Calico; loopback, multicast and 0.0.0.0/8 are ippool-validator's own checks", scope="object")
def cidr_reserved(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks that the pool neither lies in nor contains a range that pods must never be given: link-local
    (`169.254.0.0/16`, `fe80::/10`: Calico itself rejects these), and loopback (`127.0.0.0/8`, `::1`),
    multicast (`224.0.0.0/4`, `ff00::/8`) and `0.0.0.0/8` / `::` (Calico accepts these; this is
    ippool-validator's own check).

    ## Why is this bad?
    Link-local addresses carry node-local traffic such as the cloud metadata service at 169.254.169.254;
    a pod given a loopback or multicast address cannot be reached at all.

    ## Example
    ```yaml
    spec:
      cidr: 0.0.0.0/0
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
        for reserved, what, calico_rejects in RESERVED_RANGES:
            if reserved.version == pool.network.version and pool.network.overlaps(reserved):
                who = "Calico rejects it" if calico_rejects else "Calico accepts it, but pods there are unreachable"
                yield ctx.finding(f"{pool.describe()} overlaps the {what} range {reserved} ({who})",
                                  pool.resource, pool.source, "choose a private range such as 10.0.0.0/8 or "
                                  "fd00::/8 that avoids it", subject=str(reserved))


@rule("selector-invalid", "error", "A nodeSelector or namespaceSelector that Calico cannot use",
      calico="calicoctl and the Calico API server parse selectors (validator/v3); CRD installs without the "
             "API server accept a broken selector", scope="object")
def selector_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Parses `nodeSelector` and `namespaceSelector` with Calico's selector grammar and checks that they are
    strings of at most 1024 characters without `global()`.

    ## Why is this bad?
    A selector that does not parse selects nothing: the pool's nodes get no addresses from it. Only
    calicoctl and the Calico API server check it; applied as a CRD, a broken selector is stored silently.

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
            if text is None:
                continue
            problem = _selector_problem(text)
            if problem:
                yield ctx.finding(f"{pool.resource}: spec.{field} {problem}", pool.resource, pool.source,
                                  'quote values and use Calico syntax, e.g. rack == "0" or has(zone)',
                                  subject=field)


def _selector_problem(text: object) -> str:
    if not isinstance(text, str):
        return f"must be a string, not {type(text).__name__}"
    if len(text) > MAX_SELECTOR_LENGTH:
        return f"is {len(text)} characters long; Calico allows at most {MAX_SELECTOR_LENGTH}"
    try:
        selector = parse_selector(text)
    except SelectorError as err:
        return f"{text!r} does not parse: {err}"
    if selector.uses_global or "global(" in text:
        return f"{text!r} uses global(), which Calico does not allow in pool selectors"
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
    for pool in ctx.cluster.pools:
        if pool.name:
            by_name[pool.name].append(pool)
    wanted = None if ctx.focus is None else {p.name for p in ctx.pools()}
    for name, pools in by_name.items():
        if len(pools) < 2 or (wanted is not None and name not in wanted):
            continue
        first = pools[0]
        for pool in pools[1:]:
            yield ctx.finding(
                f"{pool.resource}: pool name {name!r} is also defined at {first.source} "
                f"({first.resource.api_version}); one replaces the other in the cluster",
                pool.resource, pool.source, "rename one pool or remove the duplicate", related=[first])

