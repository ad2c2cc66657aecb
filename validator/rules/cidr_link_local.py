"""The `cidr-link-local` rule: a pool on the link-local range.

Calico's own check: `libcalico-go/lib/validator/v3/validator.go`, clientv3 `ippool.go` and the IPPool CEL
rules, projectcalico/calico master 87c15906 and v3.26.0 to v3.32.1.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from ..addresses import meets, span
from ..model import Finding
from .base import Context, rule

LINK_LOCAL = {4: ipaddress.ip_network("169.254.0.0/16"), 6: ipaddress.ip_network("fe80::/10")}
LINK_LOCAL_SPANS = {version: span(net) for version, net in LINK_LOCAL.items()}


@rule("cidr-link-local", "error", "The pool lies in or contains the link-local range",
      calico="calicoctl and the Calico API server, all versions (validator/v3 and clientv3: 'IP pool "
             "range overlaps with IPv4 Link Local range'); the IPPool CRD's CEL rules since v3.33. The "
             "operator does not check it, but Calico rejects the pool it writes", scope="object",
      reads=("pools",))
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
        net = pool.masked_network  # with host bits set the range is still known
        if net is None:
            continue
        link_local = LINK_LOCAL[net.version]
        if meets(span(net), LINK_LOCAL_SPANS[net.version]):
            yield ctx.finding(
                f"{pool.describe()} overlaps {link_local} (Calico: IPPool CIDR overlaps with "
                f"{'IPv4' if net.version == 4 else 'IPv6'} link local range {link_local})", pool.resource,
                ctx.at(pool, "spec", "cidr"), "choose a private range such as 10.0.0.0/8 or fd00::/8")
