"""The `pool-nearly-full` rule: the cluster's AddressSpaceNearlyFull verdict.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding
from .base import Context, rule


@rule("pool-nearly-full", "warning", "The cluster marks the pool AddressSpaceNearlyFull",
      scope="object", reads=("pools",))
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
