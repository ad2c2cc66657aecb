"""From an admission request to the cluster before and after the write, and what the write touches.

The request's objects are read by the linter's own classifier (`sources.manifests.add_object`), so a pool
arriving through the webhook is the same model object as one read from a file. The before-state is the
snapshot with the request's `oldObject` put in (the snapshot may lag the API server by a watch event); the
after-state has `object` put in, or the object removed for DELETE. Only these objects and the nodes and
pools they can affect are the Focus: nothing else can gain or lose a finding.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from ..analysis import selector_of
from ..lazy import cached_property
from ..model import OPERATOR, Cluster, Pool, Resource
from ..rules.base import Focus
from ..sources.manifests import add_object
from .admission import AdmissionRequest
from .changes import normalized
from .delta import Change, DeltaView, same_object
from .routes import CREATE, DELETE, UPDATE
from .snapshot import Snapshot

REQUEST_SOURCE = "request"
POOLS, NODES, RESERVATIONS = frozenset({"pools"}), frozenset({"nodes"}), frozenset({"reservations"})


@dataclass
class Plan:
    """The two states to compare, the focus, and which objects are being written. The before-state is
    built only if asked for: a write that leaves no finding behind never needs it."""

    snapshot: Snapshot
    before_change: Change
    after: DeltaView
    focus: Focus
    written: frozenset[Resource]  # the written object and, for an Installation, its pools
    subject: str  # "IPPool/rack-1" for messages
    # what the request's kind writes, as `Rule.reads` names kinds: only rules reading one of them can find
    # something different after the write (an IPPool or Installation writes pools, even one it cannot name);
    # no default, for a plan that named none would run no rule at all
    written_kinds: frozenset[str]

    @cached_property
    def written_identities(self) -> frozenset[Any]:
        """The written objects as findings are compared (`decision.normalized`)."""
        return frozenset(normalized(r) for r in self.written)

    @cached_property
    def own_focus(self) -> Focus:
        """The object rules' focus: the written objects only (`decision.object_findings`)."""
        return Focus(pools=self.written, nodes=self.written, reservations=self.written,
                     objects=self.focus.objects, cluster_wide=False, previous=self.focus.previous)

    @cached_property
    def before(self) -> DeltaView:
        return DeltaView(self.snapshot, self.before_change)


def read_object(request: AdmissionRequest, obj: Mapping[str, Any] | None) -> Cluster:
    """The model objects one request object holds (apiVersion and kind filled in from the request)."""
    into = Cluster()
    if obj is None:
        return into
    typed = obj
    if "apiVersion" not in obj or "kind" not in obj:  # (a judged request's objects say both)
        typed = dict(obj)
        typed.setdefault("apiVersion", request.api_version)
        typed.setdefault("kind", request.kind)
    add_object(REQUEST_SOURCE, 1, typed, into)
    return into


def make_plan(snapshot: Snapshot, request: AdmissionRequest) -> Plan:
    new = read_object(request, request.obj if request.operation != DELETE else None)
    old = read_object(request, request.old)
    if request.kind == "Node":
        return _node_plan(snapshot, request, new, old)
    if request.kind == "IPReservation":
        return _reservation_plan(snapshot, request, new, old)
    return _pool_plan(snapshot, request, new, old)


def _resource(request: AdmissionRequest, new: Cluster, old: Cluster) -> Resource:
    for manifest in (*new.manifests, *old.manifests):
        return manifest.resource
    name = request.name or _name_of(request.obj) or _name_of(request.old)
    return Resource(request.api_version, request.kind, name)


def _name_of(obj: Mapping[str, Any] | None) -> str:
    metadata = obj.get("metadata") if obj else None
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) else ""


def _pool_plan(snapshot: Snapshot, request: AdmissionRequest, new: Cluster, old: Cluster) -> Plan:
    """IPPool (either group) and the operator's Installation: each writes one or more pools."""
    resource = _resource(request, new, old)
    installation = request.kind == "Installation"
    before_change = Change(put_pools=tuple(old.pools), manifests=tuple(old.manifests))
    if request.operation == DELETE:
        drops = tuple(p.resource for p in old.pools) or (resource,)
        after_change = Change(drop_pools=drops)
    else:
        gone = {p.name for p in old.pools} - {p.name for p in new.pools} if installation else set()
        after_change = Change(put_pools=tuple(new.pools), manifests=tuple(new.manifests),
                              drop_pools=tuple(Resource(OPERATOR, "IPPool", name) for name in sorted(gone)))
    after = DeltaView(snapshot, after_change)
    # The state's own versions of the written pools (whichever group names them, the operator's too) are
    # in focus, so that a problem they already had is found in the before-state and stays pre-existing:
    # an Installation listing an existing IPPool (moving to the operator) is the same pool, not a new one.
    identities = {normalized(p.resource) for p in (*old.pools, *new.pools)}
    if not identities and request.operation != CREATE:
        identities.add(normalized(resource))  # an UPDATE or DELETE of a pool the request did not show
    old_pools = _unique([*old.pools, *_state_pools(snapshot, identities)])
    bits = 0
    for pool in old_pools:
        bits |= _selection(snapshot, pool)
    for pool in new.pools:
        bits |= after.selected_bits(pool)
    written = frozenset({resource} | ({p.resource for p in new.pools} if installation else set()))
    pools = frozenset(p.resource for p in (*old_pools, *new.pools))
    if pools == written:  # the usual write (one pool, no other version of it): the object rules' focus set
        pools = written  # itself, so that a view looks its pools up once for both runs (`pools_in`)
    focus = Focus(pools=pools, nodes=NodeResources(snapshot, bits),
                  objects=frozenset({resource} | {p.resource for p in new.pools}),
                  previous=tuple(old.pools) if request.operation == UPDATE else ())
    return Plan(snapshot, before_change, after, focus, written, str(resource), POOLS)


class NodeResources(AbstractSet[Resource]):
    """The resources of the snapshot's nodes in a node set, listed when first read: a pool write's focus
    holds the nodes its pools select, and most judgements never read them (the node rules look nodes up
    only when one is unserved or may be short of blocks), while an update of an all() pool selects every
    node."""

    def __init__(self, snapshot: Snapshot, bits: int) -> None:
        self._snapshot, self._bits = snapshot, bits

    @cached_property
    def _resources(self) -> frozenset[Resource]:
        return frozenset(n.resource for n in self._snapshot.view.members(self._bits))

    def __contains__(self, item: object) -> bool:
        return item in self._resources

    def __iter__(self) -> Iterator[Resource]:
        return iter(self._resources)

    def __len__(self) -> int:
        return len(self._resources)


def _selection(snapshot: Snapshot, pool: Pool) -> int:
    """The snapshot's nodes a pool selects (the pool need not be in the snapshot)."""
    if id(pool) in snapshot.pool_position_of:
        return snapshot.view.selected_bits(pool)
    selector = selector_of(pool)
    return selector.select(snapshot.view.node_index) if selector is not None else 0


def _state_pools(snapshot: Snapshot, identities: set[Any]) -> list[Pool]:
    """The snapshot's pools that are these objects (by name, in either Calico API group or the operator's)."""
    pools = snapshot.cluster.pools
    names = {identity[2] for identity in identities if isinstance(identity, tuple)}
    return [pools[i] for name in sorted(names) for i in snapshot.pools_by_name.get(name, ())
            if normalized(pools[i].resource) in identities]


def _unique(pools: list[Pool]) -> list[Pool]:
    return list({id(p): p for p in pools}.values())


def _reservation_plan(snapshot: Snapshot, request: AdmissionRequest, new: Cluster, old: Cluster) -> Plan:
    resource = _resource(request, new, old)
    before_change = Change(put_reservations=tuple(old.reservations), manifests=tuple(old.manifests))
    if request.operation == DELETE:
        after_change = Change(drop_reservations=tuple(r.resource for r in old.reservations) or (resource,))
    else:
        after_change = Change(put_reservations=tuple(new.reservations), manifests=tuple(new.manifests))
    after = DeltaView(snapshot, after_change)
    reservations = [*old.reservations, *new.reservations]
    if not old.reservations and request.operation != CREATE:
        held = snapshot.cluster.reservations
        reservations += [held[i] for i in snapshot.reservations_by_name.get(resource.name, ())
                         if same_object(held[i].resource, resource)]
    index = snapshot.view.address_index
    pools = {p.resource for res in reservations for net in res.networks for p in index.overlapping(net)}
    focus = Focus(pools=frozenset(pools), reservations=frozenset({resource}), objects=frozenset({resource}))
    return Plan(snapshot, before_change, after, focus, frozenset({resource}), str(resource), RESERVATIONS)


def _node_plan(snapshot: Snapshot, request: AdmissionRequest, new: Cluster, old: Cluster) -> Plan:
    resource = _resource(request, new, old)
    old_node = old.nodes[0] if old.nodes else None
    new_node = new.nodes[0] if new.nodes else None
    if new_node is None:  # a Node object without a name cannot be judged; nothing changes
        unchanged = DeltaView(snapshot, Change())
        return Plan(snapshot, Change(), unchanged, Focus(), frozenset(), str(resource), NODES)
    before_change = Change(put_node=old_node) if old_node else Change()
    after = DeltaView(snapshot, Change(put_node=new_node))
    pools = snapshot.pools_selecting(new_node.labels)
    if old_node is not None:
        pools += snapshot.pools_selecting(old_node.labels)
    focus = Focus(pools=frozenset(p.resource for p in pools), nodes=frozenset({new_node.resource}),
                  objects=frozenset({resource}))
    return Plan(snapshot, before_change, after, focus, frozenset({resource}), str(resource), NODES)

