"""Helpers that several rules share; not a rule module (the registry lists rule modules only)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from ..addresses import AddressIndex
from ..analysis import selector_of
from ..model import DEFAULT_MAX_BLOCKS_PER_HOST, Cluster, IPNet, Node, Pool
from ..selector import SelectorError, parse_selector

if TYPE_CHECKING:
    from ..config import ReservedRange

MAX_SELECTOR_LENGTH = 1024
ENABLED = ("Always", "CrossSubnet")
LOAD_BALANCER = "LoadBalancer"
SHOWN = 3  # how many examples a message lists before "and N more"


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


def uses_written(pool: Pool) -> list[str]:
    """allowedUses as written (strings only); [] when absent or not a list."""
    uses = pool.spec.get("allowedUses")
    return [u for u in uses if isinstance(u, str)] if isinstance(uses, list) else []


def labels_text(node: Node, keys: set[str] | None = None) -> str:
    items = sorted(node.labels.items()) if keys is None else sorted(
        (k, v) for k, v in node.labels.items() if k in keys)
    text = ", ".join(f"{k}={v}" for k, v in items[:6])
    return (text + ", ...") if len(items) > 6 else (text or "no labels")


def some_of(names: list[str]) -> str:
    head = ", ".join(names[:SHOWN])
    return head + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def selector_keys(pools: Sequence[Pool]) -> set[str]:
    keys: set[str] = set()
    for pool in pools:
        selector = selector_of(pool)
        if selector is not None:
            keys |= set(selector.keys)
    return keys


def block_limit(cluster: Cluster) -> tuple[int, bool, str]:
    """(blocks per node, strictAffinity, where that comes from) as Calico IPAM applies them."""
    settings = cluster.ipam_settings
    if settings is None:
        return DEFAULT_MAX_BLOCKS_PER_HOST, False, "Calico's default, no IPAMConfiguration"
    limit = settings.max_blocks_per_host
    where = (f"maxBlocksPerHost {limit} in {settings.resource}" if settings.spec.get("maxBlocksPerHost")
             else f"Calico's default, as maxBlocksPerHost is 0 or unset in {settings.resource}")
    return limit, settings.strict_affinity, where


def blocks_for(pods: int, block_addresses: int, limit: int) -> int:
    """Blocks a node needs for `pods` addresses, but never more than the block limit lets it own."""
    return min(limit, math.ceil(pods / block_addresses))


# The policy's ranges by address, built once per policy: the webhook asks for them on every request, and
# cidr-public and cidr-not-allowed read the same allowed-cidrs.

@lru_cache(maxsize=8)
def allowed_index(allowed: tuple[IPNet, ...]) -> AddressIndex[IPNet]:
    """`allowed-cidrs` by range."""
    return AddressIndex((net, net) for net in allowed)


@lru_cache(maxsize=8)
def reserved_index(reserved: tuple[ReservedRange, ...]) -> AddressIndex[ReservedRange]:
    """`reserved-cidrs` by range."""
    return AddressIndex((r.network, r) for r in reserved)
