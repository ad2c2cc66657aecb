"""IPAM rules: the IPAMConfiguration itself, IPReservations, and the per-node block limit.

How Calico IPAM hands out addresses was read from projectcalico/calico master 87c15906,
`libcalico-go/lib/ipam/ipam.go` (`autoAssign`, `determinePools`) and `ipam_block_reader_writer.go`
(`findUsableBlock`), identical in v3.26.0 to v3.32.0 for what matters here:

- A node may own at most `maxBlocksPerHost` blocks per IP family, counted over the pools it may use;
  0 (the stored default, and what Calico assumes when there is no IPAMConfiguration) means 20.
- At that limit a node that needs another block fails with "cannot allocate new block due to per host
  block limit". It does not borrow from other nodes' blocks then, whatever `strictAffinity` says;
  borrowing only happens when no free block is left in its pools, and never with `strictAffinity: true`.
- New blocks are sought pool by pool in name order; a later pool is reached only when the earlier ones
  have no free block.
"""

from __future__ import annotations

import ipaddress
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator

from ..analysis import selector_of
from ..model import DEFAULT_MAX_BLOCKS_PER_HOST, Cluster, Finding, Node, Pool, family_name
from .base import Context, rule

MAX_BLOCKS_PER_HOST = {"projectcalico.org/v3": 1_000_000, "crd.projectcalico.org/v1": 2_147_483_647}
MAX_IP_COOLDOWN_SECONDS = 1200


def block_limit(cluster: Cluster) -> tuple[int, bool, str]:
    """(blocks per node, strictAffinity, where that comes from) as Calico IPAM applies them."""
    settings = cluster.ipam_settings
    if settings is None:
        return DEFAULT_MAX_BLOCKS_PER_HOST, False, "Calico's default, no IPAMConfiguration"
    limit = settings.max_blocks_per_host
    where = (f"maxBlocksPerHost {limit} in {settings.resource}" if settings.spec.get("maxBlocksPerHost")
             else f"Calico's default, as maxBlocksPerHost is 0 or unset in {settings.resource}")
    return limit, settings.strict_affinity, where


def pods_groups(nodes: list[Node], default_max_pods: int) -> dict[int, int]:
    """Node bitsets grouped by the pods each node can run (its own status, else the default)."""
    groups: dict[int, int] = defaultdict(int)
    for i, node in enumerate(nodes):
        groups[node.max_pods or default_max_pods] |= 1 << i
    return groups


def blocks_for(pods: int, block_addresses: int, limit: int) -> int:
    """Blocks a node needs for `pods` addresses, but never more than the block limit lets it own."""
    return min(limit, math.ceil(pods / block_addresses))


def candidate_pools(pools: Iterable[Pool], version: int) -> list[Pool]:
    """Pools IPAM may pick automatically for any pod of this family, in the name order it tries them.

    Pools with a namespaceSelector serve only some namespaces and are left out (requests from other
    namespaces neither use nor count their blocks); so are pools the cluster marks Allocatable=False.
    """
    return sorted((p for p in pools if _is_candidate(p, version)), key=lambda p: p.name)


def _candidates(ctx: Context, version: int) -> list[Pool]:
    """candidate_pools, kept by the view: the webhook corrects the list for one change, never refilters."""

    def qualifies(pool: Pool) -> bool:
        return _is_candidate(pool, version)

    return ctx.view.pools_where(f"node-block-limit/{version}", qualifies, _name_of)


def _name_of(pool: Pool) -> str:
    return pool.name


def _is_candidate(pool: Pool, version: int) -> bool:
    return (pool.serves_workloads and pool.version == version and pool.automatic
            and pool.unallocatable is None and not pool.namespace_selector and pool.block_count > 0)


def node_capacity(pools: list[Pool], limit: int) -> tuple[int, list[tuple[Pool, int]]] | None:
    """Addresses a node can reach within its block limit, taking blocks pool by pool in name order, and
    the blocks taken from each pool (the best case: no other node has claimed any of them); None when
    the pools run out of blocks before the limit is reached (then the pools are too small, which is
    pool-capacity's finding, and without strictAffinity the node borrows)."""
    remaining, addresses, taken = limit, 0, []
    for pool in pools:
        if remaining == 0:
            break
        count = min(remaining, pool.block_count)
        taken.append((pool, count))
        addresses += count * pool.block_addresses
        remaining -= count
    return (addresses, taken) if remaining == 0 else None


def _breakdown(taken: list[tuple[Pool, int]]) -> str:
    return ", ".join(f"{count} x /{pool.block_size} from {pool.name}" for pool, count in taken)


def _suggestion(pods: int, limit: int, version: int) -> str:
    bits = math.ceil(math.log2(max(1, math.ceil(pods / limit))))
    size = (32 if version == 4 else 128) - bits
    return (f"use blockSize {size} or smaller (2^{bits} addresses per block), or raise maxBlocksPerHost in "
            "the IPAMConfiguration named default")


@rule("node-block-limit", "warning", "A node cannot get addresses for all its pods within its block limit")
def node_block_limit(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Works out how many addresses of each IP family a node can hold: Calico lets a node own at most
    `maxBlocksPerHost` blocks (IPAMConfiguration `default`; absent or `0` means 20), and takes new blocks
    from the node's pools in name order, a later pool only once the earlier ones have no free block. So
    a node's ceiling is the sum, over its pools in name order, of `blocks taken x 2^(32 - blockSize)`
    (IPv4; `2^(128 - blockSize)` for IPv6) until the limit is used up. When the limit is used up and
    that is below the pods the node can run (`status.allocatable.pods`, else `--max-pods`, default
    110), the node is reported; pools that run out of blocks first are `pool-capacity`'s concern. Pools
    with a namespaceSelector, Manual pools and pools the cluster marks `Allocatable=False` are not
    counted. Without known nodes, each pool is checked for a node served by it and by the `all()` pools.

    ## Why is this bad?
    The next pod fails with "cannot allocate new block due to per host block limit" (calico issue
    9462) and stays in ContainerCreating. At the limit Calico does not borrow from other nodes' blocks,
    whatever `strictAffinity` says. `blockSize: 32` with the default limit gives 20 pods per node;
    `blockSize: 30` gives 80.

    ## Example
    ```yaml
    spec:
      cidr: 10.244.0.0/16
      blockSize: 32          # 20 blocks x 1 address = 20 pods per node
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 10.244.0.0/16
      blockSize: 26          # 20 blocks x 64 addresses = 1280
    ```
    """
    limit, _, where = block_limit(ctx.cluster)
    every = ctx.focus is None or (ctx.cluster.ipam_settings is not None
                                  and ctx.cluster.ipam_settings.resource in ctx.focus.objects)
    for version in (4, 6):
        pools = _candidates(ctx, version)
        if not pools:
            continue
        if ctx.cluster.nodes_known:
            yield from _nodes_short(ctx, pools, version, limit, where, every)
        else:
            yield from _pools_short(ctx, pools, version, limit, where, every)


def _nodes_short(ctx: Context, pools: list[Pool], version: int, limit: int, where: str,
                 every: bool) -> Iterator[Finding]:
    """Nodes are grouped by the set of pools that select them, so each distinct set is worked out once."""
    view, nodes = ctx.view, ctx.cluster.nodes
    scope = view.node_index.all_bits
    if not every and ctx.focus is not None:
        # Only the focus's nodes can gain or lose a finding, and the nodes of the focus's pools that are
        # being written (all focus pools when the focus does not say what is written): a node label
        # change keeps the pools that select the node in focus, but their other nodes are unchanged.
        scope = 0
        for node in ctx.nodes():
            scope |= 1 << view.node_position(node)
        written = ctx.focus.objects
        for pool in ctx.pools():
            if not written or pool.resource in written:
                scope |= view.selected_bits(pool)
    groups = view.pool_sets(pools, scope)  # costs the nodes in scope, not pools x groups
    family = family_name(version)
    for bits, members in groups:
        if not members:
            continue  # served by no pool: node-unselected
        reached = node_capacity(sorted(members, key=lambda p: p.name), limit)  # IPAM's order: by name
        if reached is None:
            continue
        capacity, taken = reached
        for position in view.node_index.members(bits):
            node = nodes[position]
            pods = node.max_pods or ctx.config.max_pods
            if capacity >= pods:
                continue
            yield ctx.finding(
                f"{node.resource} can hold at most {capacity} {family} addresses, fewer than its {pods} "
                f"pods: a node owns at most {limit} blocks ({where}) and its pools give {_breakdown(taken)}; "
                "further pods fail with 'cannot allocate new block due to per host block limit'",
                node.resource, node.source, _suggestion(pods, limit, version),
                related=[pool for pool, _ in taken], subject=family)


def _pools_short(ctx: Context, pools: list[Pool], version: int, limit: int, where: str,
                 every: bool) -> Iterator[Finding]:
    wanted = None if every else {id(p) for p in ctx.pools()}
    fallback = [p for p in pools if (selector := selector_of(p)) is not None and selector.is_all]
    pods = ctx.config.max_pods
    for pool in pools:
        if wanted is not None and id(pool) not in wanted:
            continue
        order = sorted({id(p): p for p in (*fallback, pool)}.values(), key=lambda p: p.name)
        reached = node_capacity(order, limit)
        if reached is None or reached[0] >= pods or pool not in [p for p, _ in reached[1]]:
            continue
        capacity, taken = reached
        family = family_name(version)
        yield ctx.finding(
            f"{pool.describe()}: a node it serves can hold at most {capacity} {family} addresses, fewer "
            f"than {pods} pods: a node owns at most {limit} blocks ({where}) and gets {_breakdown(taken)}; "
            "further pods fail with 'cannot allocate new block due to per host block limit'",
            pool.resource, pool.source, _suggestion(pods, limit, version), subject=family)


@rule("ipam-config-invalid", "error", "An IPAMConfiguration that Calico rejects or never reads",
      calico="calicoctl and the Calico API server, all versions (clientv3 ipamconfig.go: name must be "
             "default; validator/v3: maxBlocksPerHost >= 0); the IPAMConfiguration and IPAMConfig CRDs "
             "(ranges)", scope="object")
def ipam_config_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks `IPAMConfiguration` (`projectcalico.org/v3`) and `IPAMConfig` (`crd.projectcalico.org/v1`)
    objects: the name must be `default`; `maxBlocksPerHost` from 0 to 1000000 (v1: 2147483647), where 0
    means Calico's built-in 20; `ipCooldownSeconds` from 0 to 1200. Types are schema-invalid's.

    ## Why is this bad?
    calicoctl and the Calico API server refuse another name ('Cannot create an IPAMConfiguration
    resource with a name other than "default"'), and where the CRD stores it anyway, IPAM reads only
    `default`: the settings have no effect. A negative limit is rejected ("must be greater than or
    equal to 0").

    ## Example
    ```yaml
    kind: IPAMConfiguration
    metadata:
      name: ipam
    spec:
      strictAffinity: true
      maxBlocksPerHost: -1
    ```

    ## Use instead
    ```yaml
    kind: IPAMConfiguration
    metadata:
      name: default
    spec:
      strictAffinity: true
      maxBlocksPerHost: 4
    ```
    """
    for settings in ctx.cluster.ipam:
        if ctx.focus is not None and settings.resource not in ctx.focus.objects:
            continue
        resource, source = settings.resource, settings.source
        if resource.name != "default":
            yield ctx.finding(
                f"{resource}: the name must be default (Calico: Cannot create an IPAMConfiguration resource "
                "with a name other than \"default\"; IPAM reads only default)", resource, source,
                "name it default", subject="name")
        highest = MAX_BLOCKS_PER_HOST.get(resource.api_version, MAX_BLOCKS_PER_HOST["projectcalico.org/v3"])
        for field, low, high in (("maxBlocksPerHost", 0, highest),
                                 ("ipCooldownSeconds", 0, MAX_IP_COOLDOWN_SECONDS)):
            value = settings.spec.get(field)
            if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
                bound = f"greater than or equal to {low}" if value < low else f"at most {high}"
                yield ctx.finding(
                    f"{resource}: {field} {value} is outside {low}..{high} (Calico: {field} = '{value}' "
                    f"(must be {bound}))",
                    resource, source, f"use a value from {low} to {high}"
                    + ("; 0 means the default of 20 blocks" if field == "maxBlocksPerHost" else ""),
                    subject=field)


@rule("ipreservation-invalid", "error", "An IPReservation entry that is not a CIDR",
      calico="calicoctl and the Calico API server, all versions (validator/v3 'cidrs': must parse); the "
             "IPReservation CRD since v3.33 (items format cidr, so a bare address is refused)",
      scope="object")
def ipreservation_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks each `spec.reservedCIDRs` entry of an IPReservation: it must be a CIDR (`10.0.1.0/24`,
    `cafe:f00d::/96`). Host bits are allowed, as in Calico. A bare address (`10.0.0.1`) is accepted by
    calicoctl but refused by the IPReservation CRD since v3.33, so it is reported too: `10.0.0.1/32`
    reserves one address on every version. Non-string entries and duplicates are schema-invalid's.

    ## Why is this bad?
    Calico rejects the reservation, and the addresses it was meant to keep free are handed to pods.

    ## Example
    ```yaml
    spec:
      reservedCIDRs: ["10.0.1.0/33", "10.0.0.1"]
    ```

    ## Use instead
    ```yaml
    spec:
      reservedCIDRs: ["10.0.1.0/24", "10.0.0.1/32"]
    ```
    """
    focus = ctx.focus
    for reservation in ctx.cluster.reservations:
        if focus is not None and reservation.resource not in focus.reservations | focus.objects:
            continue
        for index, text in enumerate(reservation.cidrs):
            if not isinstance(text, str):
                continue
            problem, hint = _reservation_problem(text)
            if problem:
                yield ctx.finding(f"{reservation.resource}: reservedCIDRs[{index}] {problem}",
                                  reservation.resource, reservation.source, hint, subject=str(index))


def _reservation_problem(text: str) -> tuple[str, str]:
    if "/" not in text:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return f"{text!r} is not a CIDR (Calico: reservedCIDRs must be valid CIDRs)", ""
        return (f"{text!r} is a single address; Calico's IPReservation CRD (v3.33+) wants CIDR notation",
                f"write {address}/{address.max_prefixlen}")
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return f"{text!r} is not a CIDR (Calico: reservedCIDRs must be valid CIDRs)", ""
    return "", ""
