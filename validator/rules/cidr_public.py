"""The `cidr-public` rule: an IPv4 pod range outside private address space.

ippool-validator's own check: Calico accepts any range. Private space is RFC 1918 (10/8, 172.16/12,
192.168/16) and RFC 6598 shared address space (100.64/10); IPv6 global unicast pools are normal.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from ..addresses import span
from ..model import Finding, Pool
from .base import Context, rule
from .cidr_link_local import LINK_LOCAL
from .cidr_reserved import RESERVED_RANGES
from .common import allowed_index

PRIVATE_IPV4 = tuple(ipaddress.ip_network(text) for text in
                     ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"))
PRIVATE_SPANS = tuple(span(net) for net in PRIVATE_IPV4)
ELSEWHERE_SPANS = tuple(span(net) for net in (*(r for r, _ in RESERVED_RANGES), LINK_LOCAL[4])
                        if net.version == 4)
POD_USES = ("Workload", "Tunnel")


@rule("cidr-public", "warning", "An IPv4 pod pool outside private address space (RFC 1918, RFC 6598)",
      scope="object", reads=("pools",))
def cidr_public(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Warns about an IPv4 pool for pods or tunnels that is not inside `10.0.0.0/8`, `172.16.0.0/12`,
    `192.168.0.0/16` (RFC 1918) or `100.64.0.0/10` (RFC 6598 shared address space), unless the
    policy's `allowed-cidrs` covers it (a range the organisation owns). IPv6 pools are not checked:
    global unicast is normal for IPv6 pods. LoadBalancer-only pools are not checked either (service
    addresses are often public on purpose), nor ranges `cidr-reserved` and `cidr-link-local` report.
    Calico accepts any range: this is ippool-validator's own check.

    ## Why is this bad?
    Pod addresses in someone else's public range shadow that network: traffic from pods to it stays in
    the cluster, and with `natOutgoing` off, pod traffic leaves with source addresses that belong to
    another organisation. Near-misses of private ranges are common in real manifests: `172.100.0.0/16`
    is not in `172.16.0.0/12`, and `191.168.0.0/16` is not `192.168.0.0/16`.

    ## Example
    ```yaml
    spec:
      cidr: 172.100.0.0/16
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 172.20.0.0/16
    ```
    Or, when the range is the organisation's own, list it in `allowed-cidrs` in the policy file.
    """
    for pool in ctx.pools():
        net = pool.masked_network
        if net is None or net.version != 4 or not _for_pods(pool):
            continue
        mine = span(net)
        if _private(mine) or _reported_elsewhere(mine):
            continue
        if next(allowed_index(ctx.config.allowed_cidrs).supernets(net), None) is not None:
            continue
        yield ctx.finding(
            f"{pool.describe()} is outside private IPv4 space (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, "
            "100.64.0.0/10): pods there take addresses of someone else's public network",
            pool.resource, ctx.at(pool, "spec", "cidr"),
            "use a private range such as 10.244.0.0/16, or list the range in allowed-cidrs in the policy "
            "file if it is the organisation's own")


def _for_pods(pool: Pool) -> bool:
    return any(use in pool.allowed_uses for use in POD_USES)


def _private(mine: tuple[int, int, int]) -> bool:
    version, low, high = mine
    for other, first, last in PRIVATE_SPANS:  # noqa: SIM110  (`within`, inline: any() over a generator costs a frame)
        if other == version and first <= low and high <= last:
            return True
    return False


def _reported_elsewhere(mine: tuple[int, int, int]) -> bool:
    """In ranges cidr-reserved and cidr-link-local report (IPv4)."""
    version, low, high = mine
    for other, first, last in ELSEWHERE_SPANS:  # noqa: SIM110  (`meets`, inline)
        if other == version and first <= high and low <= last:
            return True
    return False
