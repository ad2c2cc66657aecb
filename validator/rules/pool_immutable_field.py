"""What Calico refuses when a pool is updated: an old and a new version of one pool, not a cluster.

The rule compares each pool with its previous version, which the rule context knows on an UPDATE in the
webhook (`Context.previous`); a lint sees one version of each object, so the rule finds nothing there.
Semantics from projectcalico/calico master 87c15906, `libcalico-go/lib/clientv3/ippool.go`
(`validateAndSetDefaults`, `cidrChangeOK`) and the CEL transition rules in
`api/pkg/apis/projectcalico/v3/ippool.go`; for operator pools from tigera/operator master 40788b9b,
`pkg/controller/ippool/pool_controller.go`.
"""


from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..model import DEFAULT_BLOCK_SIZE, Finding, IPNet, Pool
from .base import Context, rule

RULE_ID = "pool-immutable-field"
MIGRATION_GUIDE = "https://docs.tigera.io/calico/latest/networking/ipam/migrate-pools"


@rule(RULE_ID, "error", "An update changes a pool's cidr or blockSize, or turns a LoadBalancer pool into a "
      "Workload or Tunnel one",
      calico="calicoctl and the Calico API server, all versions (clientv3: 'IPPool CIDR cannot be "
             "modified', 'IPPool BlockSize cannot be modified'; LoadBalancer since v3.30); the IPPool CRD's "
             "CEL transition rules since v3.32.0 (cidr and blockSize)", scope="object", reads=("pools",))
def pool_immutable_field(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Compares the old and the new version of a pool on UPDATE (in the admission webhook; a lint has no
    old version and reports nothing): `cidr` may not change (the same network written in its canonical
    form is fine, as in Calico v3.32+), `blockSize` may not change (absent and 0 count as 26 for IPv4,
    122 for IPv6), and a pool whose `allowedUses` include `LoadBalancer` may not take on `Workload` or
    `Tunnel` (an emptied `allowedUses` means `[Workload, Tunnel]`). For an operator Installation pool, a
    new `cidr` is a new pool (the operator matches pools by CIDR, creates the new one and deletes the
    old), so only `blockSize` and `allowedUses` of a pool with the same CIDR are compared.

    ## Why is this bad?
    Calico refuses the update ("CIDR cannot be changed; follow IP pool migration guide to avoid
    corruption."): addresses already allocated from the pool, its blocks and their routes all depend
    on the CIDR and block size. The migration guide's way is a new pool, then disabling and deleting
    the old one.

    ## Example
    ```yaml
    # before: cidr 10.244.0.0/16, blockSize 26;  after: cidr 10.245.0.0/16, blockSize 24
    ```

    ## Use instead
    Create a second pool with the new range and block size, disable the old pool (`disabled: true`),
    move the workloads, then delete the old pool
    (https://docs.tigera.io/calico/latest/networking/ipam/migrate-pools).
    """
    for pool in ctx.pools():
        old = ctx.previous(pool)
        if old is not None:
            yield from update_problems(old, pool)


def update_problems(old: Pool, new: Pool) -> list[Finding]:
    """Why Calico would refuse to update `old` into `new`: one finding per changed immutable field."""
    problems: list[Finding] = []
    network = _network(new)
    # the same text is the same network: the old version is parsed only when its cidr was written otherwise
    old_network = network if old.spec.get("cidr") == new.spec.get("cidr") else _network(old)
    same_network = network is not None and old_network == network
    if new.origin == "operator":
        if not same_network:
            return []  # a different CIDR is a different pool to the operator
    elif old.spec.get("cidr") != new.spec.get("cidr") and not same_network:
        problems.append(_finding(
            old, new, "cidr", f"spec.cidr changed from {old.cidr_text} to {new.cidr_text} (Calico: IPPool "
            "CIDR cannot be modified; CIDR cannot be changed; follow IP pool migration guide to avoid "
            "corruption.)"))
    old_size, new_size = _block_size(old, old_network), _block_size(new, network)
    if old_size != new_size:
        problems.append(_finding(
            old, new, "blockSize", f"blockSize changed from {_show(old_size)} to {_show(new_size)} (Calico: "
            "IPPool BlockSize cannot be modified; follow IP pool migration guide to avoid corruption.)"))
    if "LoadBalancer" in old.allowed_uses:
        gained = sorted(u for u in new.allowed_uses if u != "LoadBalancer")
        if gained:
            problems.append(_finding(
                old, new, "allowedUses", f"allowedUses changed from LoadBalancer to {', '.join(gained)} "
                "(Calico: IPPool allowed use cannot be changed from LoadBalancer to Workload or Tunnel)"))
    return problems


def _network(pool: Pool) -> IPNet | None:
    """The pool's network as clientv3 normalizes it (host bits cleared); None if it does not parse."""
    return pool.masked_network


def _block_size(pool: Pool, network: IPNet | None) -> Any:
    """blockSize after Calico's defaulting: absent or 0 is 26 (IPv4) or 122 (IPv6); `network` is the pool's
    (`_network`)."""
    raw = pool.spec.get("blockSize")
    if (raw is None or (raw == 0 and not isinstance(raw, bool))) and network is not None:
        return DEFAULT_BLOCK_SIZE[network.version]
    return raw


def _show(size: Any) -> str:
    return "(unset)" if size is None else str(size)


def _finding(old: Pool, new: Pool, subject: str, message: str) -> Finding:
    return Finding(RULE_ID, pool_immutable_field.severity, f"{new.resource}: {message}", new.resource,
                   new.source, f"create a new pool instead and migrate to it: {MIGRATION_GUIDE}",
                   subject=subject)
