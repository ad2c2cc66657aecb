"""The `cidr-reserved` rule: a pool on loopback, multicast or unspecified addresses.

ippool-validator's own check: Calico accepts these ranges.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from ..addresses import span
from ..model import Finding
from .base import Context, rule

RESERVED_RANGES = [
    (ipaddress.ip_network("127.0.0.0/8"), "loopback"),
    (ipaddress.ip_network("::1/128"), "loopback"),
    (ipaddress.ip_network("224.0.0.0/4"), "multicast"),
    (ipaddress.ip_network("ff00::/8"), "multicast"),
    (ipaddress.ip_network("0.0.0.0/8"), "'this network' (RFC 1122)"),
    (ipaddress.ip_network("::/128"), "unspecified"),
]

RESERVED_SPANS = [span(net) for net, _ in RESERVED_RANGES]


@rule("cidr-reserved", "error", "The pool overlaps loopback, multicast or unspecified addresses",
      scope="object", reads=("pools",))
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
        net = pool.masked_network  # with host bits set the range is still known
        if net is None:
            continue
        version, low, high = span(net)
        for (reserved, what), (other, first, last) in zip(RESERVED_RANGES, RESERVED_SPANS, strict=True):
            if other == version and first <= high and low <= last:  # `meets`, inline: six ranges a pool
                who = "Calico accepts it, but pods there are unreachable"
                yield ctx.finding(f"{pool.describe()} overlaps the {what} range {reserved} ({who})",
                                  pool.resource, ctx.at(pool, "spec", "cidr"),
                                  "choose a private range such as 10.0.0.0/8 or fd00::/8 that avoids it",
                                  subject=str(reserved))
