"""`DeltaView`: the questions of `view.View`, answered for a snapshot with one object changed.

Rebuilding a ClusterView for every admission request would re-index every node and re-evaluate every
selector (tens of milliseconds at 5,000 nodes). A DeltaView instead reuses the snapshot's indexes and
corrects them for the change:

- a pool put or dropped: the node index is the snapshot's; the changed pool's selection is one selector
  evaluation over it; pools overlapping a CIDR come from the snapshot's address index, minus the dropped
  pools, plus the new one; "served" bits lose only the nodes the dropped pool served alone (the snapshot
  keeps which nodes two pools serve).
- a node put: it keeps its bit (or takes the next one); every pool's selection changes at that bit only,
  decided by `Snapshot.pools_selecting(labels)`, which answers from a node with the same selector-visible
  labels when there is one.
- a reservation put or dropped: the reservation index, corrected the same way.

The after-cluster's lists hold the objects in the order a fresh `ClusterView` would see (a replaced object
keeps its place, a new one goes last; `changes.EditedList`, copied only when iterated), so
`ClusterView(delta.cluster)` must give the same answers to every member of `View` and the same findings;
a test checks that on random clusters and changes, iterating over the protocol. A DeltaView asks its
snapshot's ClusterView public questions only (`lookup_pools`, `served_bits`, `max_pods_groups`, ...), and
keeps its own memos, which die with the request.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from typing import Any

from ..addresses import AddressIndex, meets, span
from ..analysis import (
    FieldSources,
    IdentityMemo,
    bits_of,
    group_by_pool_set,
    pods_groups_of,
    remembered,
    selector_of,
)
from ..exemptions import Exemptions, exemptions
from ..lazy import cached_property
from ..model import IGNORE_ANNOTATION, Cluster, Node, Pool, Reservation, Resource, Source
from ..view import NodeSets, RangeIndex
from . import changes
from .changes import Change, Edit, Members, PatchedList, PatchedNodeIndex, ReservationOverlay, same_object
from .snapshot import Snapshot

__all__ = ["Change", "DeltaView", "same_object"]


class DeltaView:
    """The `View` of `snapshot` with `change` applied, answered from the snapshot's indexes and the public
    questions of its ClusterView (`self.base`), never from that view's internals."""

    def __init__(self, snapshot: Snapshot, change: Change) -> None:
        base = snapshot.cluster
        self.snapshot, self.base, self.change = snapshot, snapshot.view, change
        self._pools = Edit(base.pools, snapshot.pools_by_name, change.put_pools, change.drop_pools) \
            if change.touches_pools else snapshot.unchanged_pools
        self._reservations = Edit(base.reservations, snapshot.reservations_by_name, change.put_reservations,
                                  change.drop_reservations) \
            if change.touches_reservations else snapshot.unchanged_reservations
        nodes: Sequence[Node] = base.nodes
        self._node, self._node_position = change.put_node, -1
        if change.put_node is not None:
            existing = snapshot.nodes_by_name.get(change.put_node.name)
            self._node_position = existing[0] if existing else len(nodes)
            nodes = changes.EditedList(nodes, {self._node_position: change.put_node} if existing else {}, (),
                               () if existing else (change.put_node,))
        # The lists are EditedLists when the write changes them: read-only lists, as rules treat a
        # cluster's lists (nothing appends to a view's cluster), copied only if iterated.
        self.cluster = Cluster(
            pools=self._pools.result, nodes=nodes,  # type: ignore[arg-type]  # (no cast(): a call a request)
            reservations=self._reservations.result, ipam=base.ipam,  # type: ignore[arg-type]
            manifests=list(change.manifests), nodes_known=base.nodes_known or change.put_node is not None,
            files=base.files)
        self._selected: dict[int, int] = {}
        self._pools_in: IdentityMemo[list[Pool]] = IdentityMemo()
        self._patched_lists: dict[tuple[int, tuple[int, ...]], list[Pool]] = {}
        self._appended_lists: dict[tuple[int, ...], list[Pool]] = {}
        self._where_origin: dict[int, tuple[Sequence[Pool], Sequence[Pool], set[int]]] = {}
        self._fallback: dict[int, Sequence[Pool]] = {}
        self._where: dict[str, Sequence[Pool]] = {}
        self._pods_groups: dict[int, dict[int, int]] = {}

    # two memos made on first use (an IdentityMemo costs a call to make, and most requests ask neither)

    @cached_property
    def _nodes_in(self) -> IdentityMemo[list[Node]]:
        return IdentityMemo()

    @cached_property
    def _member_ids(self) -> IdentityMemo[Container[int]]:
        return IdentityMemo()

    # nodes

    @cached_property
    def node_index(self) -> NodeSets:
        if self._node is None:
            return self.base.node_index
        return PatchedNodeIndex(self.base.node_index, self._node_position, self._node.labels)

    @cached_property
    def _new_node_pools(self) -> frozenset[int]:
        assert self._node is not None
        return frozenset(id(p) for p in self.snapshot.pools_selecting(self._node.labels))

    def node_position(self, node: Node) -> int:
        return self._node_position if node is self._node else self.base.node_position(node)

    def nodes_in(self, resources: Iterable[Resource]) -> list[Node]:
        return remembered(self._nodes_in, resources, self.lookup_nodes)

    def lookup_nodes(self, resources: Iterable[Resource]) -> list[Node]:
        if self._node is None:
            return self.base.lookup_nodes(resources)  # not base.nodes_in: nothing of a request stays there
        wanted = set(resources)
        where = self.base.node_position
        positions = {where(n) for n in self.base.lookup_nodes(wanted)} - {self._node_position}
        if self._node.resource in wanted:
            positions.add(self._node_position)
        return [self.cluster.nodes[i] for i in sorted(positions)]

    @cached_property
    def max_pods_groups(self) -> dict[int, int]:
        base = self.base.max_pods_groups
        if self._node is None:
            return base
        bit = 1 << self._node_position
        groups = {pods: bits & ~bit for pods, bits in base.items() if bits & ~bit}
        if self._node.max_pods is not None:
            groups[self._node.max_pods] = groups.get(self._node.max_pods, 0) | bit
        return groups

    def pods_groups(self, default_max_pods: int) -> dict[int, int]:
        if self._node is None:  # the snapshot's nodes: its answer (kept by its view)
            return self.base.pods_groups(default_max_pods)
        found = self._pods_groups.get(default_max_pods)
        if found is None:
            found = self._pods_groups[default_max_pods] = pods_groups_of(
                self.max_pods_groups, self.node_index.all_bits, default_max_pods)
        return found

    # pools

    def selected_bits(self, pool: Pool) -> int:
        bits = self._selected.get(id(pool))
        if bits is not None:
            return bits
        if id(pool) in self._pools.order:  # a pool this change puts
            selector = selector_of(pool)
            bits = selector.select(self.base.node_index) if selector is not None else 0
        else:
            bits = self.base.selected_bits(pool)
            if self._node is not None:
                bit = 1 << self._node_position
                bits = (bits & ~bit) | (bit if id(pool) in self._new_node_pools else 0)
        self._selected[id(pool)] = bits
        return bits

    def overlapping(self, pool: Pool) -> list[Pool]:
        net = pool.network
        if net is None:
            return []
        if not self.change.touches_pools:
            return self.base.overlapping(pool)
        gone = self._pools.gone_ids
        found = [o for o in self.base.address_index.overlapping(net) if id(o) not in gone and o is not pool]
        added = self._pools.added
        if len(added) == 1:  # one pool put (nearly every write): one comparison, no index
            one = added[0]
            if one is not pool and one.network is not None and meets(span(one.network), span(net)):
                found.append(one)
            return found
        found += [a for a in self._added_index.overlapping(net) if a is not pool]
        return found

    @cached_property
    def _added_index(self) -> AddressIndex[Pool]:
        """The put pools by CIDR: an Installation puts thousands, and each asks about all the others."""
        return AddressIndex((a.network, a) for a in self._pools.added if a.network is not None)

    def pools_in(self, resources: Iterable[Resource]) -> list[Pool]:
        return remembered(self._pools_in, resources, self.lookup_pools)

    def lookup_pools(self, resources: Iterable[Resource]) -> list[Pool]:
        if not self.change.touches_pools:
            return self.base.lookup_pools(resources)
        wanted = resources if isinstance(resources, (set, frozenset)) else set(resources)
        edit = self._pools
        kept = self.base.lookup_pools(wanted)
        if kept and edit.gone_ids:
            kept = [p for p in kept if id(p) not in edit.gone_ids]
        puts = [a for a in edit.added if a.resource in wanted]
        if not puts:  # the snapshot's lookup is in cluster order already
            return kept
        if not kept and len(puts) == 1:  # one put pool (the usual write): nothing to order
            return puts
        where = self.snapshot.pool_position_of
        found = [(where[id(p)], p) for p in kept] + [(edit.order[id(a)], a) for a in puts]
        return [pool for _, pool in sorted(found, key=lambda pair: pair[0])]

    def pools_where(self, key: str, qualifies: Callable[[Pool], bool],
                    order: Callable[[Pool], Any]) -> Sequence[Pool]:
        base = self.base.pools_where(key, qualifies, order)
        if not self.change.touches_pools:
            self._where_origin[id(base)] = (base, base, set())  # member_ids: the snapshot's own set
            return base
        found = self._where.get(key)
        if found is None:
            old, edit = self.base.cluster.pools, self._pools
            gone: set[tuple[Any, int]] = set()
            for i in edit.gone:  # loops, not comprehensions: a write changes one or two pools
                if qualifies(old[i]):
                    gone.add((order(old[i]), i))
            inserts: list[tuple[tuple[Any, int], Pool]] = []
            for pool in edit.added:
                if qualifies(pool):
                    inserts.append(((order(pool), edit.order[id(pool)]), pool))
            if not gone and not inserts:  # the write changes nothing this list holds
                found = self._where[key] = base
                self._where_origin[id(base)] = (base, base, set())
                return found
            keys = self.snapshot.where_keys(key, base, order)
            found = self._where[key] = PatchedList(base, keys, gone, inserts)
            self._where_origin[id(found)] = (found, base, {id(a) for _, a in inserts})
        return found

    def least(self, key: str, qualifies: Callable[[Pool], bool],
              measure: Callable[[Pool], int]) -> int | None:
        if not self.change.touches_pools:
            return self.base.least(key, qualifies, measure)
        gone = self._pools.gone_ids
        found = next((value for value, held in self.base.ranked(key, qualifies, measure) if held not in gone),
                     None)
        for pool in self._pools.added:  # the put pools it accepts; no list of them is built
            if qualifies(pool):
                value = measure(pool)
                found = value if found is None or value < found else found
        return found

    def member_ids(self, pools: Sequence[Pool]) -> Container[int]:
        origin = self._where_origin.get(id(pools))
        if origin is None or origin[0] is not pools:
            held = self._member_ids.get(pools)
            return held if held is not None else self._member_ids.put(pools, set(map(id, pools)))
        _, base, added = origin
        if base is pools:
            return self.base.member_ids(base)
        return Members(self.base.member_ids(base), self._pools.gone_ids, added)

    def pools_named(self, name: str) -> list[Pool]:
        if not self.change.touches_pools:
            return self.base.pools_named(name)
        edit, old = self._pools, self.base.cluster.pools
        kept = [i for i in self.snapshot.pools_by_name.get(name, ()) if i not in edit.gone]
        if len(edit.added) == 1:  # one pool put (nearly every write): no index of the put pools
            puts = edit.added if edit.added[0].name == name else ()
        else:
            puts = self._added_by_name.get(name, ())
        if len(kept) + len(puts) <= 1:  # the usual answer (one pool of the name, or none): nothing to sort
            return [old[i] for i in kept] + list(puts)
        found = [(i, old[i]) for i in kept] + [(edit.order[id(a)], a) for a in puts]
        return [pool for _, pool in sorted(found, key=lambda pair: pair[0])]

    @cached_property
    def _added_by_name(self) -> dict[str, list[Pool]]:
        found: dict[str, list[Pool]] = {}
        for pool in self._pools.added:
            found.setdefault(pool.name, []).append(pool)
        return found

    @cached_property
    def _new_node_list(self) -> list[Pool]:
        assert self._node is not None
        return list(self.snapshot.pools_selecting(self._node.labels))

    def pools_selecting_node(self, position: int) -> list[Pool]:
        if self._node is not None and position == self._node_position:
            return self._new_node_list
        base = self.base.pools_selecting_node(position)
        if not self.change.touches_pools:
            return base
        edit, groups = self._pools, self._added_by_selection
        hits = tuple(bits >> position & 1 for bits in groups)
        key = (id(base), hits)  # nodes sharing a list and the new pools' verdicts share the answer
        found = self._patched_lists.get(key)
        if found is None:
            if not edit.replaced:  # the put pools all go last: the kept base pools, then theirs
                found = [p for p in base if id(p) not in edit.gone_ids] + self._appended_for(hits)
            else:
                where = self.snapshot.pool_position_of
                pairs = [(where[id(p)], p) for p in base if id(p) not in edit.gone_ids]
                pairs += [(edit.order[id(a)], a) for pools, hit in zip(groups.values(), hits, strict=True)
                          if hit for a in pools]
                found = [pool for _, pool in sorted(pairs, key=lambda pair: pair[0])]
            self._patched_lists[key] = found
        return found

    def _appended_for(self, hits: tuple[int, ...]) -> list[Pool]:
        """The appended pools of the groups `hits` marks, in cluster order (one list per distinct verdict,
        shared by every node class with that verdict)."""
        found = self._appended_lists.get(hits)
        if found is None:
            order = self._pools.order
            chosen = [a for pools, hit in zip(self._added_by_selection.values(), hits, strict=True) if hit
                      for a in pools]
            found = self._appended_lists[hits] = sorted(chosen, key=lambda a: order[id(a)])
        return found

    @cached_property
    def _added_by_selection(self) -> dict[int, list[Pool]]:
        """The put pools grouped by the nodes they select: a node's verdict is one bit per group, not
        one per pool (an Installation's thousands of all() pools are one group)."""
        groups: dict[int, list[Pool]] = {}
        for pool in self._pools.added:
            groups.setdefault(self.selected_bits(pool), []).append(pool)
        return groups

    def _inserts(self, version: int, qualifies: Any) -> list[tuple[int, Pool]]:
        order = self._pools.order
        return [(order[id(a)], a) for a in self._pools.added if a.version == version and qualifies(a)]

    @cached_property
    def workload_pools(self) -> Mapping[int, Sequence[Pool]]:
        if not self.change.touches_pools:
            return self.base.workload_pools
        found: dict[int, Sequence[Pool]] = {}
        for version in (4, 6):
            pools = PatchedList(self.base.workload_pools.get(version, []),
                                self.snapshot.workload_positions(version), self._pools.gone,
                                self._inserts(version, lambda p: p.serves_workloads))
            if pools:
                found[version] = pools
        return found

    def fallback_pools(self, version: int) -> Sequence[Pool]:
        if not self.change.touches_pools:
            return self.base.fallback_pools(version)
        found = self._fallback.get(version)
        if found is None:
            found = self._fallback[version] = PatchedList(
                self.base.fallback_pools(version), self.snapshot.fallback_positions(version),
                self._pools.gone, self._inserts(version, lambda p: p.serves_workloads and _selects_all(p)))
        return found

    def families_in_use(self) -> frozenset[int]:
        """The snapshot's families and the put pools': a family in use before the change stays in use
        for judging it, so that dropping or disabling its last pool strands its nodes visibly."""
        return self._families_in_use

    @cached_property
    def _families_in_use(self) -> frozenset[int]:  # (asked by several rules of a request)
        if not self._pools.added:
            return self.base.families_in_use()
        added = (p.version for p in self._pools.added
                 if p.version is not None and "Workload" in p.allowed_uses)
        return self.base.families_in_use() | frozenset(added)

    def pool_sets(self, pools: Sequence[Pool], scope: int) -> list[tuple[int, list[Pool]]]:
        return [(bits_of(positions), chosen) for positions, chosen in self.pool_groups(pools, scope)]

    def pool_groups(self, pools: Sequence[Pool], scope: int) -> list[tuple[list[int], list[Pool]]]:
        return group_by_pool_set(self.node_index, self.pools_selecting_node, self.member_ids(pools), scope)

    def members(self, bits: int) -> list[Node]:
        nodes = self.cluster.nodes
        return [nodes[i] for i in self.node_index.members(bits)]

    @cached_property
    def _field_sources(self) -> FieldSources:
        return FieldSources(self.cluster.manifests)

    def field_source(self, obj: Pool | Reservation | Any, path: tuple[str | int, ...]) -> Source:
        return self._field_sources.source(obj, path)

    def unserved_bits(self, version: int) -> int:
        if self._node is None and not self._pools.gone and not self.base.unserved_bits(version):
            return 0  # pools only added: they can serve more nodes, never fewer, and none was unserved
        return self.node_index.all_bits & ~self._served.get(version, 0)

    @cached_property
    def _served(self) -> dict[int, int]:
        base_served = {version: self.base.served_bits(version) for version in self.base.workload_pools}
        if self._node is not None:
            bit = 1 << self._node_position
            chosen, ids = self._new_node_pools, self.snapshot.workload_ids
            return {v: (bits & ~bit) | (0 if chosen.isdisjoint(ids.get(v, ())) else bit)
                    for v, bits in base_served.items()}
        if not self.change.touches_pools:
            return base_served
        served: dict[int, int] = {}
        base_ids = self.snapshot.workload_ids
        old_pools = self.base.cluster.pools
        # the families with workload pools before or after (one whose last pool goes serves no node: 0)
        versions = {*base_served, *(p.version for p in self._pools.added if p.serves_workloads)}
        for version in sorted(v for v in versions if v is not None):
            serving = base_ids.get(version, frozenset())
            lost = [old_pools[i] for i in self._pools.gone if id(old_pools[i]) in serving]
            if len(lost) <= 1:
                bits = base_served.get(version, 0)
                if lost:
                    bits &= ~(self.base.selected_bits(lost[0]) & ~self.snapshot.served_twice.get(version, 0))
                for pool in self._pools.added:
                    if pool.serves_workloads and pool.version == version:
                        bits |= self.selected_bits(pool)
            else:  # several pools at once (an Installation): count again
                bits = 0
                for pool in self.workload_pools.get(version, ()):
                    bits |= self.selected_bits(pool)
            served[version] = bits
        return served

    # reservations and exemptions

    @cached_property
    def reservation_index(self) -> RangeIndex[Reservation]:
        if not self.change.touches_reservations:
            return self.base.reservation_index
        edit = self._reservations
        return ReservationOverlay(self.base.reservation_index, edit.gone_ids, edit.added)

    def reservations_in(self, resources: set[Resource]) -> list[Reservation]:
        edit, old = self._reservations, self.base.cluster.reservations
        by_name = self.snapshot.reservations_by_name
        found = [(i, old[i]) for r in resources for i in by_name.get(r.name, ())
                 if i not in edit.gone and old[i].resource == r]
        found += [(edit.order[id(a)], a) for a in edit.added if a.resource in resources]
        return [res for _, res in sorted(found, key=lambda pair: pair[0])]

    def exemptions(self) -> Exemptions:
        found = self.__dict__.get("_exemptions")
        if found is None:
            touched = [*self._pools.added, *self._reservations.added, *([self._node] if self._node else [])]
            base = self.base.exemptions()
            found = base  # the snapshot's, uncopied, when the write neither adds nor drops an exemption
            annotated = any(o.annotations and o.annotations.get(IGNORE_ANNOTATION) for o in touched)
            # which resources changed matters only when one may hold or gain an exemption
            changed_resources = self._changed_resources(touched) if annotated or base else set()
            if annotated or not changed_resources.isdisjoint(base):
                # (an unannotated object that shares a changed resource is not in `base` either)
                found = {r: entry for r, entry in base.items() if r not in changed_resources}
                found.update(exemptions(Cluster(
                    pools=self.pools_in(changed_resources), nodes=self.nodes_in(changed_resources),
                    reservations=self.reservations_in(changed_resources))))
            self.__dict__["_exemptions"] = found
        return found

    def _changed_resources(self, touched: list[Pool | Reservation | Node]) -> set[Resource]:
        """The resources the change puts or takes away (the old version of a put node included)."""
        old = self.base.cluster
        changed = {o.resource for o in touched}
        changed |= {old.pools[i].resource for i in self._pools.gone}
        changed |= {old.reservations[i].resource for i in self._reservations.gone}
        if self._node is not None and self._node_position < len(old.nodes):
            changed.add(old.nodes[self._node_position].resource)
        return changed


def _selects_all(pool: Pool) -> bool:
    selector = selector_of(pool)
    return selector is not None and selector.is_all
