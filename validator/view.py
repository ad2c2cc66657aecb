"""`View`: the questions a rule may ask about a cluster, as a protocol.

Rules see a cluster through these questions only (`rules.base.Context.view`). Two classes answer them:
`analysis.ClusterView`, which builds its indexes from a whole Cluster (the linter), and
`webhook.delta.DeltaView`, which answers for a cached snapshot with one write applied, from the
snapshot's indexes (the webhook). The contract between them: for the same cluster, every member here gives
the same answer in both, which `tests/test_webhook_delta.py` checks member by member, iterating over this
protocol so that a new question cannot be left out. Like kube-linter's `lintcontext.LintContext`, the
protocol is the interface between layers; neither implementation reads the other's internals.

Node sets are Python ints, bit i standing for the i-th node of `cluster.nodes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from .exemptions import Exemptions
from .model import Cluster, IPNet, Node, Pool, Reservation, Resource, Source
from .selector import LabelIndex

T = TypeVar("T")


class NodeSets(LabelIndex, Protocol):
    """The nodes as bits: what selectors are evaluated over, and how a set of bits is read back."""

    def members(self, bits: int) -> list[int]: ...


class RangeIndex(Protocol[T]):
    """Objects by address range."""

    def overlapping(self, net: IPNet) -> list[T]: ...


class View(Protocol):
    """The questions rules may ask (each answered from indexes, never by a walk over pairs)."""

    @property
    def cluster(self) -> Cluster: ...

    @property
    def node_index(self) -> NodeSets: ...

    @property
    def reservation_index(self) -> RangeIndex[Reservation]: ...

    @property
    def workload_pools(self) -> Mapping[int, Sequence[Pool]]:
        """Enabled pools that hand out pod addresses, by IP version (only versions that have some)."""
        ...

    def selected_bits(self, pool: Pool) -> int:
        """The nodes the pool's nodeSelector selects (none when it does not parse)."""
        ...

    def overlapping(self, pool: Pool) -> list[Pool]:
        """Other pools whose CIDR meets this pool's."""
        ...

    def unserved_bits(self, version: int) -> int:
        """Nodes that no enabled workload pool of this IP version selects."""
        ...

    def fallback_pools(self, version: int) -> Sequence[Pool]:
        """Enabled workload pools of this version whose selector is all() (or absent)."""
        ...

    def families_in_use(self) -> frozenset[int]:
        """IP versions pods are meant to get addresses of (see ClusterView.families_in_use)."""
        ...

    def members(self, bits: int) -> list[Node]:
        """The nodes of a node set, in cluster order."""
        ...

    def field_source(self, obj: Pool | Reservation | Any, path: tuple[str | int, ...]) -> Source:
        """The file and line of a field of an object as written (`("spec", "cidr")`)."""
        ...

    def node_position(self, node: Node) -> int:
        """The node's bit in the node sets."""
        ...

    def pools_in(self, resources: Iterable[Resource]) -> list[Pool]:
        """The pools that are these resources, in cluster order."""
        ...

    def nodes_in(self, resources: Iterable[Resource]) -> list[Node]:
        """The nodes that are these resources, in cluster order."""
        ...

    def pools_named(self, name: str) -> list[Pool]:
        """The pools of this name, in cluster order."""
        ...

    def pools_where(self, key: str, qualifies: Callable[[Pool], bool],
                    order: Callable[[Pool], Any]) -> Sequence[Pool]:
        """The pools `qualifies` accepts, sorted by `order` (ties in cluster order); `key` names the pair."""
        ...

    def least(self, key: str, qualifies: Callable[[Pool], bool],
              measure: Callable[[Pool], int]) -> int | None:
        """The least `measure` over the pools `qualifies` accepts (those `pools_where(key, qualifies, ...)`
        hands out, without listing them); None if none. One `qualifies` and one measure per key."""
        ...

    def pool_sets(self, pools: Sequence[Pool], scope: int) -> list[tuple[int, list[Pool]]]:
        """The nodes of `scope` grouped by which of `pools` select them."""
        ...

    def pool_groups(self, pools: Sequence[Pool], scope: int) -> list[tuple[list[int], list[Pool]]]:
        """`pool_sets` with each group's nodes as ascending positions."""
        ...

    def pods_groups(self, default_max_pods: int) -> dict[int, int]:
        """Node sets by the pods each node can run: its own capacity when known, else the default."""
        ...

    def exemptions(self) -> Exemptions:
        """The objects annotated `ippool-validator.io/ignore`, and what they ignore."""
        ...
