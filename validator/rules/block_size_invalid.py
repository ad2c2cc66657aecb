"""The `block-size-invalid` rule: a blockSize outside its family's range.

Calico's own check: the IPPool CEL rules (`api/pkg/apis/projectcalico/v3/ippool.go`) and `validateIPPoolSpec`
(`libcalico-go/lib/validator/v3/validator.go`), projectcalico/calico master 87c15906.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import BLOCK_SIZE_RANGE, Finding, family_name
from .base import Context, rule


@rule("block-size-invalid", "error", "blockSize is outside the range Calico allows for the pool's IP family",
      calico="calicoctl and the Calico API server, all versions (clientv3 ippool.go: 'IPv4 block size must "
             "be between 20 and 32'); the IPPool CRD (0..128 since v3.32.0, CEL per family since v3.33); the "
             "operator (ValidatePools), which also rejects an explicit 0", scope="object", reads=("pools",))
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
                                  pool.resource, ctx.at(pool, "spec", "blockSize"))
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
                pool.resource, ctx.at(pool, "spec", "blockSize"),
                f"use a block size from {low} to {high}, or leave it out for the default {default}")
