"""Derived facts the rules share, computed once per Cluster: selectors, node sets, address index, coverage.

Nodes are members of a bitset index (bit i = the i-th node), so "which nodes does this pool select" is a
few set operations on Python integers per selector, whatever the number of nodes, and "which nodes does no
pool serve" is one OR over the pools' sets. Rules ask these questions through the `view.View` protocol,
which ClusterView implements; the webhook's DeltaView answers the same questions for a cluster that
differs from its cached state by one object.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Sequence
from typing import Any, Generic, TypeVar

from .addresses import AddressIndex
from .exemptions import Exemptions, exemptions
from .lazy import cached_property
from .model import Cluster, Manifest, Node, Pool, Reservation, Resource, Source
from .nodeindex import NodeIndex, union_of
from .selector import Selector
from .view import NodeSets

OPERATOR_FIELDS = {"ipipMode": "encapsulation", "vxlanMode": "encapsulation"}

T = TypeVar("T")

MEMO_SIZE = 8  # answers remembered per argument object: a run's rules ask about one or two focus sets


class IdentityMemo(Generic[T]):
    """Answers remembered for argument objects by identity (a focus frozenset, a list this view handed
    out), at most `size` of them.

    A snapshot's view outlives every request asked of it, so nothing it remembers per argument may grow
    with the requests: when full, the memo starts again (the next asks rebuild what they need).
    """

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self.size = size
        self._held: dict[int, tuple[object, T]] = {}

    def get(self, key: object) -> T | None:
        held = self._held.get(id(key))
        return held[1] if held is not None and held[0] is key else None

    def put(self, key: object, value: T) -> T:
        if len(self._held) >= self.size:
            self._held.clear()
        self._held[id(key)] = (key, value)
        return value

    def __len__(self) -> int:
        return len(self._held)


def selector_of(pool: Pool) -> Selector | None:
    """The pool's parsed nodeSelector, or None when it does not parse (selector-invalid says why)."""
    return pool.parsed_node_selector


def _selects_all(pool: Pool) -> bool:
    selector = selector_of(pool)
    return selector is not None and selector.is_all


class ClusterView:
    """Questions about a whole Cluster, each answered from indexes built on first use."""


    def __init__(self, cluster: Cluster, families_before: frozenset[int] = frozenset()) -> None:
        self.cluster = cluster
        self.families_before = families_before  # IP families in use in the state this cluster changes
        self._selected: dict[int, int] = {}
        self._fallback: dict[int, Sequence[Pool]] = {}
        self._where: dict[str, Sequence[Pool]] = {}
        self._ranked: dict[str, list[tuple[int, int]]] = {}
        self._unserved: dict[int, int] = {}
        self._pods_groups: dict[int, dict[int, int]] = {}
        self._nodes_in: IdentityMemo[list[Node]] = IdentityMemo()
        self._member_ids: IdentityMemo[Container[int]] = IdentityMemo()
        self._pools_in: IdentityMemo[list[Pool]] = IdentityMemo()

    @property
    def pools(self) -> list[Pool]:
        return self.cluster.pools

    @property
    def nodes(self) -> list[Node]:
        return self.cluster.nodes

    @cached_property
    def node_index(self) -> NodeIndex:
        return NodeIndex([node.labels for node in self.cluster.nodes])

    @cached_property
    def address_index(self) -> AddressIndex[Pool]:
        return AddressIndex((pool.network, pool) for pool in self.cluster.pools if pool.network is not None)

    def overlapping(self, pool: Pool) -> list[Pool]:
        """Other pools whose CIDR meets this pool's (same name counts as other: it is another object)."""
        if pool.network is None:
            return []
        return [other for other in self.address_index.overlapping(pool.network) if other is not pool]

    def selected_bits(self, pool: Pool) -> int:
        """The nodes the pool's nodeSelector selects (none when it does not parse)."""
        bits = self._selected.get(id(pool))
        if bits is None:
            selector = selector_of(pool)
            bits = self.node_index.select(selector) if selector is not None else 0
            self._selected[id(pool)] = bits
        return bits

    def members(self, bits: int) -> list[Node]:
        nodes = self.cluster.nodes
        return [nodes[i] for i in self.node_index.members(bits)]

    @cached_property
    def workload_pools(self) -> dict[int, list[Pool]]:
        """Enabled pools that hand out pod addresses, by IP version."""
        found: dict[int, list[Pool]] = defaultdict(list)
        for pool in self.cluster.pools:
            if pool.serves_workloads and pool.version is not None:
                found[pool.version].append(pool)
        return found

    @cached_property
    def _families(self) -> frozenset[int]:
        return frozenset(p.version for p in self.cluster.pools
                         if p.version is not None and "Workload" in p.allowed_uses)

    def families_in_use(self) -> frozenset[int]:
        """IP versions pods are meant to get addresses of: those of any pool for workloads, enabled or
        not (a disabled or Manual pool does not take its family out of use; its nodes just lose it), and
        those in use in the state this cluster is a change of (`families_before`): deleting a family's
        last pool does not take it out of use for judging the deletion."""
        return self._families | self.families_before

    @cached_property
    def _served(self) -> dict[int, int]:
        served: dict[int, int] = {}
        for version, pools in self.workload_pools.items():
            index = self.node_index
            sets = (self.selected_bits(pool) for pool in pools)
            served[version] = union_of(sets, index.all_bits, index.size)
        return served

    def unserved_bits(self, version: int) -> int:
        """Nodes that no enabled workload pool of this IP version selects (remembered per version)."""
        found = self._unserved.get(version)
        if found is None:
            found = self._unserved[version] = self.node_index.all_bits & ~self.served_bits(version)
        return found

    def served_bits(self, version: int) -> int:
        """Nodes that some enabled workload pool of this IP version selects."""
        return self._served.get(version, 0)

    def fallback_pools(self, version: int) -> Sequence[Pool]:
        """Enabled workload pools of this version whose selector is all() (or absent)."""
        found = self._fallback.get(version)
        if found is None:
            found = self._fallback[version] = [
                pool for pool in self.workload_pools.get(version, []) if _selects_all(pool)]
        return found

    def pods_demand(self, bits: int, default_max_pods: int) -> int:
        """Addresses the selected nodes' pods need: each node's own pod capacity, or the default."""
        total = 0
        known = self.max_pods_groups
        remaining = bits
        for max_pods, group_bits in known.items():
            hit = bits & group_bits
            if hit:
                total += max_pods * hit.bit_count()
                remaining &= ~group_bits
        return total + default_max_pods * remaining.bit_count()

    @cached_property
    def max_pods_groups(self) -> dict[int, int]:
        """Node sets by their own pod capacity (nodes that report none are in no set)."""
        groups: dict[int, int] = defaultdict(int)
        for i, node in enumerate(self.cluster.nodes):
            if node.max_pods is not None:
                groups[node.max_pods] |= 1 << i
        return groups

    # Lookups by object, so that a rule asked about a few objects (the webhook's focus) costs what those
    # objects cost, not what the cluster holds.

    @cached_property
    def _node_positions(self) -> dict[int, int]:
        return {id(node): i for i, node in enumerate(self.cluster.nodes)}

    def node_position(self, node: Node) -> int:
        """The node's bit in the node sets (`selected_bits`, `unserved_bits`)."""
        return self._node_positions[id(node)]

    @cached_property
    def _pools_by_resource(self) -> dict[Resource, list[int]]:
        found: dict[Resource, list[int]] = defaultdict(list)
        for i, pool in enumerate(self.cluster.pools):
            found[pool.resource].append(i)
        return found

    @cached_property
    def _nodes_by_resource(self) -> dict[Resource, list[int]]:
        found: dict[Resource, list[int]] = defaultdict(list)
        for i, node in enumerate(self.cluster.nodes):
            found[node.resource].append(i)
        return found

    def pools_in(self, resources: Iterable[Resource]) -> list[Pool]:
        """The pools that are these resources, in cluster order (remembered for a frozenset: every rule
        of a run asks for the same focus)."""
        return remembered(self._pools_in, resources, self.lookup_pools)

    def lookup_pools(self, resources: Iterable[Resource]) -> list[Pool]:
        """`pools_in`, looked up every time."""
        index = self._pools_by_resource
        pools = self.cluster.pools
        return [pools[i] for i in _positions(index, resources)]

    def nodes_in(self, resources: Iterable[Resource]) -> list[Node]:
        """The nodes that are these resources, in cluster order (remembered for a frozenset: every rule
        of a run asks for the same focus)."""
        return remembered(self._nodes_in, resources, self.lookup_nodes)

    def lookup_nodes(self, resources: Iterable[Resource]) -> list[Node]:
        """`nodes_in`, looked up every time."""
        index = self._nodes_by_resource
        nodes = self.cluster.nodes
        return [nodes[i] for i in _positions(index, resources)]

    @cached_property
    def _field_sources(self) -> FieldSources:
        return FieldSources(self.cluster.manifests)

    def field_source(self, obj: Pool | Reservation | Any, path: tuple[str | int, ...]) -> Source:
        """The file and line of a field of an object as written (see `FieldSources.source`)."""
        return self._field_sources.source(obj, path)

    @cached_property
    def reservation_index(self) -> AddressIndex[Reservation]:
        """Reservations by reserved range (a reservation with several ranges appears once per range)."""
        return AddressIndex((net, res) for res in self.cluster.reservations for net in res.networks)

    def exemptions(self) -> Exemptions:
        """The exemptions (objects annotated `ippool-validator.io/ignore`), read once per view."""
        found = self.__dict__.get("_exemptions")
        if found is None:
            found = self.__dict__["_exemptions"] = exemptions(self.cluster)
        return found

    def pods_groups(self, default_max_pods: int) -> dict[int, int]:
        """Node bitsets by the pods each node can run: its own capacity when known, else the default."""
        found = self._pods_groups.get(default_max_pods)
        if found is None:
            found = self._pods_groups[default_max_pods] = pods_groups_of(
                self.max_pods_groups, self.node_index.all_bits, default_max_pods)
        return found

    def pools_where(self, key: str, qualifies: Callable[[Pool], bool],
                    order: Callable[[Pool], Any]) -> Sequence[Pool]:
        """The pools `qualifies` accepts, sorted by `order` (ties in cluster order), remembered under `key`.

        `key` names the pair of functions (say "ipam-candidates-4"): asked for one changed object, the
        webhook corrects the list of its cached state instead of filtering every pool again.
        """
        found = self._where.get(key)
        if found is None:
            chosen = [(order(p), i, p) for i, p in enumerate(self.cluster.pools) if qualifies(p)]
            found = self._where[key] = [p for _, _, p in sorted(chosen, key=lambda t: (t[0], t[1]))]
        return found

    def ranked(self, key: str, qualifies: Callable[[Pool], bool],
               measure: Callable[[Pool], int]) -> list[tuple[int, int]]:
        """(measure, id) of every pool `qualifies` accepts, least first; remembered under `key` (one
        `qualifies` and one measure per key), so that the webhook finds the least of a changed list in the
        change's size, skipping the pools it drops."""
        found = self._ranked.get(key)
        if found is None:
            found = self._ranked[key] = sorted(
                (measure(p), id(p)) for p in self.cluster.pools if qualifies(p))
        return found

    def least(self, key: str, qualifies: Callable[[Pool], bool],
              measure: Callable[[Pool], int]) -> int | None:
        """The least `measure` over the pools `qualifies` accepts, or None."""
        ranked = self.ranked(key, qualifies, measure)
        return ranked[0][0] if ranked else None

    @cached_property
    def _pools_by_name(self) -> dict[str, list[Pool]]:
        found: dict[str, list[Pool]] = defaultdict(list)
        for pool in self.cluster.pools:
            found[pool.name].append(pool)
        return found

    def pools_named(self, name: str) -> list[Pool]:
        """The pools of this name, in cluster order (several when the same name is defined twice)."""
        return self._pools_by_name.get(name, [])

    @cached_property
    def _pools_of_node(self) -> list[list[Pool]]:
        """Per node, the pools selecting it; nodes with the same pools share one list (see pool_sets)."""
        found: list[list[Pool]] = [[] for _ in self.cluster.nodes]
        for pool in self.cluster.pools:
            for position in self.node_index.members(self.selected_bits(pool)):
                found[position].append(pool)
        shared: dict[tuple[int, ...], list[Pool]] = {}
        return [shared.setdefault(tuple(map(id, pools)), pools) for pools in found]

    def pools_selecting_node(self, position: int) -> list[Pool]:
        """The pools whose nodeSelector matches the node at this position, in cluster order."""
        return self._pools_of_node[position]

    def member_ids(self, pools: Sequence[Pool]) -> Container[int]:
        """The ids of `pools`, remembered for a list this view handed out (pools_where)."""
        held = self._member_ids.get(pools)
        return held if held is not None else self._member_ids.put(pools, set(map(id, pools)))

    def pool_sets(self, pools: Sequence[Pool], scope: int) -> list[tuple[int, list[Pool]]]:
        """`pool_groups` with each group's nodes as a set (an int)."""
        return [(bits_of(positions), chosen) for positions, chosen in self.pool_groups(pools, scope)]

    def pool_groups(self, pools: Sequence[Pool], scope: int) -> list[tuple[list[int], list[Pool]]]:
        """The nodes of `scope` grouped by which of `pools` select them (see `group_by_pool_set`)."""
        return group_by_pool_set(self.node_index, self.pools_selecting_node, self.member_ids(pools), scope)

    def warm(self) -> None:
        """Build every index now (a snapshot's view is shared by requests and must not build lazily)."""
        for pool in self.cluster.pools:
            self.selected_bits(pool)
        for version in (4, 6):
            self.unserved_bits(version)
            self.fallback_pools(version)
        _ = (self.address_index, self.reservation_index, self._node_positions, self._pools_by_resource,
             self._nodes_by_resource, self.max_pods_groups, self._pools_by_name, self._pools_of_node,
             self._families)
        self.exemptions()


class FieldSources:
    """Where each object's fields are written, from the manifests it was read from."""

    def __init__(self, manifests: Iterable[Manifest]) -> None:
        self._manifests = manifests

    @cached_property
    def _manifest_at(self) -> dict[Source, tuple[Manifest, tuple[str | int, ...]]]:
        """Each object's manifest and the path of the object inside it, by the object's Source (an
        operator pool is an entry of its Installation's spec.calicoNetwork.ipPools)."""
        found: dict[Source, tuple[Manifest, tuple[str | int, ...]]] = {}
        for manifest in self._manifests:
            if manifest.schema != "installation":
                found.setdefault(manifest.source, (manifest, ()))
                continue
            for index in range(_operator_entries(manifest)):
                path = ("spec", "calicoNetwork", "ipPools", index)
                found.setdefault(Source(manifest.source.file, manifest.line_of(path)), (manifest, path))
        return found

    def source(self, obj: Pool | Reservation | Any, path: tuple[str | int, ...]) -> Source:
        """The file and line of a field of a pool (or other object) as written, `path` in the
        projectcalico.org/v3 vocabulary (`("spec", "cidr")`); the object's own line when the field is
        absent or the object came from no file. For an operator pool, `spec.X` is the entry's `X`
        (`ipipMode` and `vxlanMode` are its `encapsulation`)."""
        held = self._manifest_at.get(obj.source)
        if held is None:
            return obj.source
        manifest, prefix = held
        if prefix:
            if path[:1] != ("spec",):
                return obj.source
            field = path[1] if len(path) > 1 else None
            path = (OPERATOR_FIELDS.get(str(field), field), *path[2:]) if field is not None else ()
        line = manifest.line_of((*prefix, *path))
        return Source(obj.source.file, line)


def _operator_entries(manifest: Manifest) -> int:
    """How many spec.calicoNetwork.ipPools entries an Installation holds (0 when the shape is wrong)."""
    node: Any = manifest.body
    for key in ("spec", "calicoNetwork", "ipPools"):
        node = node.get(key) if isinstance(node, dict) else None
    return len(node) if isinstance(node, list) else 0


def pods_groups_of(max_pods_groups: dict[int, int], all_bits: int, default_max_pods: int) -> dict[int, int]:
    """Node sets by pod capacity: the known capacities, and every other node at the default."""
    found = dict(max_pods_groups)
    known = 0
    for bits in found.values():
        known |= bits
    rest = all_bits & ~known
    if rest:
        found[default_max_pods] = found.get(default_max_pods, 0) | rest
    return found


def group_by_pool_set(index: NodeSets, selecting: Callable[[int], list[Pool]], wanted: Container[int],
                      scope: int) -> list[tuple[list[int], list[Pool]]]:
    """The nodes of `scope` (ascending positions) grouped by which pools of `wanted` (ids) select them
    (each group's pools in cluster order; nodes no pool selects form a group without pools).

    Each node is looked up (`selecting(position)`), and nodes that share their list of selecting pools
    share the work: the cost is the nodes in scope and the distinct pool sets, never pools x groups;
    positions, not node-wide ints, so many small groups cost their members.
    """
    # by id of a selecting list (held, so that the id stays its own): its group, keyed once per list
    group_of: dict[int, tuple[list[Pool], list[int]]] = {}
    by_set: dict[tuple[int, ...], tuple[tuple[Pool, ...], list[int]]] = {}
    for position in index.members(scope):
        pools = selecting(position)
        held = group_of.get(id(pools))
        if held is None or held[0] is not pools:
            chosen = tuple(p for p in pools if id(p) in wanted)
            held = group_of[id(pools)] = (pools, by_set.setdefault(tuple(map(id, chosen)), (chosen, []))[1])
        held[1].append(position)
    return [(positions, list(chosen)) for chosen, positions in by_set.values()]


def _positions(index: dict[Resource, list[int]], resources: Iterable[Resource]) -> list[int]:
    """The positions of these resources in an index by resource, ascending (a loop: a focus is a few)."""
    found: list[int] = []
    for resource in resources:
        held = index.get(resource)
        if held:
            found += held
    found.sort()
    return found


def remembered(memo: IdentityMemo[list[Any]], resources: Iterable[Resource],
                lookup: Callable[[Iterable[Resource]], list[Any]]) -> list[Any]:
    if not isinstance(resources, frozenset):
        return lookup(resources)
    held = memo.get(resources)
    return held if held is not None else memo.put(resources, lookup(resources))


def bits_of(positions: list[int]) -> int:
    """The set of ascending `positions` as an int, built in one pass (no quadratic OR of growing ints)."""
    if not positions:
        return 0
    buffer = bytearray((positions[-1] >> 3) + 1)
    for i in positions:
        buffer[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(buffer, "little")
