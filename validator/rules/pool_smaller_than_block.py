"""The `pool-smaller-than-block` rule: an enabled pool that holds no block.

Calico's own check: the IPPool CEL rules (`api/pkg/apis/projectcalico/v3/ippool.go`) and `validateIPPoolSpec`
(`libcalico-go/lib/validator/v3/validator.go`), projectcalico/calico master 87c15906.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding
from .base import Context, rule


@rule("pool-smaller-than-block", "error", "An enabled pool's prefix is longer than its block size",
      calico="calicoctl and the Calico API server, all versions (validator/v3 and clientv3: 'IP pool size is "
             "too small'); the IPPool CRD's CEL rule since v3.33; the operator (ValidatePools), even for a "
             "pool with disableNewAllocations", scope="object", reads=("pools",))
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
        net = pool.masked_network  # 10.0.0.1/28 is still a /28: its size is judged too
        if pool.disabled and not operator or net is None or pool.block_size is None:
            continue
        if operator and pool.spec.get("blockSize") == 0:
            continue  # the operator rejects blockSize 0 itself: block-size-invalid
        if net.prefixlen > pool.block_size:
            field = "blockSize" if "blockSize" in pool.raw else "cidr"
            yield ctx.finding(
                f"{pool.describe()}: the pool is smaller than one /{pool.block_size} block (Calico: IP pool "
                "size is too small for use with Calico IPAM. It must be equal to or greater than the block "
                "size)", pool.resource, ctx.at(pool, "spec", field),
                f"set blockSize to at least {net.prefixlen}, or widen the cidr")
