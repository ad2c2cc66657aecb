"""Exemptions: the objects annotated `ippool-validator.io/ignore`, read beside the annotations' names in the
model, so that the engine, the shared view and the webhook's delta all read them from below, not from the
engine above them."""

from __future__ import annotations

from collections.abc import Iterable

from .model import IGNORE_ANNOTATION, IGNORE_REASON_ANNOTATION, Cluster, Resource

Exemptions = dict[Resource, tuple[frozenset[str], str]]  # object -> (rules it ignores, the reason given)


def exemptions(cluster: Cluster) -> Exemptions:
    """Objects annotated `ippool-validator.io/ignore: "rule-a, rule-b"` (or "all"), with the reason given."""
    found: Exemptions = {}
    holders: Iterable = (*cluster.pools, *cluster.nodes, *cluster.reservations, *cluster.ipam)
    for obj in holders:
        value = obj.annotations.get(IGNORE_ANNOTATION) if obj.annotations else None
        if value:
            rules = frozenset(part.strip() for part in value.split(",") if part.strip())
            found[obj.resource] = (rules, obj.annotations.get(IGNORE_REASON_ANNOTATION, ""))
    return found
