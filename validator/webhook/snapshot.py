"""An immutable cluster state with every index built, shared by all requests without locks.

The state changes only when the watched cluster does; then a new Snapshot is built beside the old one and
swapped in by one reference assignment (copy-on-write). A request reads the current reference once and
judges its change against that snapshot through a `DeltaView`, which needs some indexes that a plain
`ClusterView` does not keep: positions by name, which pools serve a node more than once, and which pools
select a given label set. They are all built in `warm()`, before the snapshot is published.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..analysis import ClusterView, selector_of
from ..lazy import cached_property
from ..model import Cluster, Node, Pool, Reservation
from .changes import Edit

LabelKey = frozenset[tuple[str, str]]
MAX_MEMO = 4096  # label sets remembered per snapshot (a label set is what selectors can tell apart)


class Snapshot:
    """A Cluster, its warm ClusterView, and the extra indexes a DeltaView reads."""

    def __init__(self, cluster: Cluster, generation: int = 0, synced_at: float = 0.0) -> None:
        self.cluster = cluster
        self.view = ClusterView(cluster)
        self.generation = generation
        self.synced_at = synced_at
        self._memo: dict[LabelKey, tuple[Pool, ...]] = {}
        self._memo_lock = threading.Lock()
        self._where_keys: dict[str, list[Any]] = {}

    def warm(self) -> Snapshot:
        """Build every index now, so that no request pays for one (and none races to build it)."""
        self.view.warm()
        for version in (4, 6):
            self.workload_positions(version)
            self.fallback_positions(version)
        _ = (self.served_twice, self.workload_ids, self.label_groups, self.pools_by_name, self.nodes_by_name,
             self.reservations_by_name, self.pool_position_of, self.reservation_position_of,
             self.unchanged_pools, self.unchanged_reservations)
        return self

    # positions by name and by object

    @cached_property
    def pools_by_name(self) -> dict[str, list[int]]:
        return positions_by_name(self.cluster.pools)

    @cached_property
    def nodes_by_name(self) -> dict[str, list[int]]:
        return positions_by_name(self.cluster.nodes)

    @cached_property
    def reservations_by_name(self) -> dict[str, list[int]]:
        return positions_by_name(self.cluster.reservations)

    @cached_property
    def unchanged_pools(self) -> Edit:
        """The edit of a write that leaves the pools alone (most writes leave pools or reservations alone;
        an Edit is only read, so every such DeltaView shares this one)."""
        return Edit(self.cluster.pools, self.pools_by_name, (), ())

    @cached_property
    def unchanged_reservations(self) -> Edit:
        return Edit(self.cluster.reservations, self.reservations_by_name, (), ())

    @cached_property
    def pool_position_of(self) -> dict[int, int]:
        return {id(pool): i for i, pool in enumerate(self.cluster.pools)}

    @cached_property
    def reservation_position_of(self) -> dict[int, int]:
        return {id(res): i for i, res in enumerate(self.cluster.reservations)}

    # which pools serve which nodes

    def workload_positions(self, version: int) -> list[int]:
        """Cluster positions of `view.workload_pools[version]`, ascending (for bisection)."""
        return self._positions("_workload_positions", version, self.view.workload_pools.get(version, []))

    def fallback_positions(self, version: int) -> list[int]:
        return self._positions("_fallback_positions", version, self.view.fallback_pools(version))

    def _positions(self, name: str, version: int, pools: Sequence[Pool]) -> list[int]:
        cache: dict[int, list[int]] = self.__dict__.setdefault(name, {})
        found = cache.get(version)
        if found is None:
            where = self.pool_position_of
            found = cache[version] = [where[id(p)] for p in pools]
        return found

    def where_keys(self, key: str, pools: Sequence[Pool], order: Callable[[Pool], Any]) -> list[Any]:
        """The sort keys (order, position) of `view.pools_where(key, ...)`, for bisection."""
        found = self._where_keys.get(key)
        if found is None:
            where = self.pool_position_of
            found = self._where_keys[key] = [(order(p), where[id(p)]) for p in pools]
        return found

    @cached_property
    def served_twice(self) -> dict[int, int]:
        """Per IP version, nodes that two or more workload pools select: dropping one keeps them served."""
        twice: dict[int, int] = {}
        for version, pools in self.view.workload_pools.items():
            once = more = 0
            for pool in pools:
                bits = self.view.selected_bits(pool)
                more |= once & bits
                once |= bits
            twice[version] = more
        return twice

    @cached_property
    def workload_ids(self) -> dict[int, frozenset[int]]:
        return {version: frozenset(map(id, pools)) for version, pools in self.view.workload_pools.items()}

    # label sets: nodes that selectors cannot tell apart

    @cached_property
    def selector_keys(self) -> frozenset[str]:
        """Every label key some pool's nodeSelector reads; other labels never change a selection."""
        keys: set[str] = set()
        for pool in self.cluster.pools:
            selector = selector_of(pool)
            if selector is not None:
                keys |= selector.keys
        return frozenset(keys)

    def label_key(self, labels: Mapping[str, str]) -> LabelKey:
        keys = self.selector_keys
        return frozenset((k, v) for k, v in labels.items() if k in keys)

    @cached_property
    def label_groups(self) -> dict[LabelKey, int]:
        """One node position per distinct label set (as selectors see it): its twin for a changed node."""
        groups: dict[LabelKey, int] = {}
        for i, node in enumerate(self.cluster.nodes):
            groups.setdefault(self.label_key(node.labels), i)
        return groups

    def pools_selecting(self, labels: Mapping[str, str]) -> tuple[Pool, ...]:
        """The pools whose nodeSelector matches these labels, in cluster order.

        A label set that some node already has is answered from that node's list of pools (the view's);
        a new one evaluates each distinct selector once. Either way the answer is remembered per snapshot.
        """
        key = self.label_key(labels)
        found = self._memo.get(key)
        if found is not None:
            return found
        twin = self.label_groups.get(key)
        pools = self.cluster.pools
        if twin is not None:  # the view keeps each node's pools, in cluster order
            found = tuple(self.view.pools_selecting_node(twin))
        else:
            verdicts: dict[str, bool] = {}
            chosen = []
            for pool in pools:
                selector = selector_of(pool)
                if selector is None:
                    continue
                verdict = verdicts.get(selector.canonical)
                if verdict is None:
                    verdict = verdicts[selector.canonical] = selector.matches(labels)
                if verdict:
                    chosen.append(pool)
            found = tuple(chosen)
        with self._memo_lock:
            if len(self._memo) >= MAX_MEMO:
                self._memo.clear()
            self._memo[key] = found
        return found

    @property
    def size(self) -> dict[str, int]:
        return {"pools": len(self.cluster.pools), "nodes": len(self.cluster.nodes),
                "reservations": len(self.cluster.reservations)}


def positions_by_name(objects: Sequence[Pool | Node | Reservation]) -> dict[str, list[int]]:
    """Where each name stands in a list of objects (a name may stand twice: pool-name-duplicate)."""
    found: dict[str, list[int]] = defaultdict(list)
    for i, obj in enumerate(objects):
        found[obj.resource.name].append(i)
    return dict(found)
