"""The pieces a DeltaView is made of: what a write changes (`Change`), where it lands in the snapshot's
lists (`Edit`, `patched`), and indexes corrected for it (`PatchedNodeIndex`, `ReservationOverlay`,
`Members`), each answering like the snapshot's own index would for the changed cluster."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Container, Iterable, Iterator, Mapping, Sequence
from heapq import merge
from typing import Any, Final, TypeVar, overload

from ..addresses import AddressIndex, meets, span
from ..lazy import cached_property
from ..model import CALICO_API_VERSIONS, OPERATOR, IPNet, Manifest, Node, Pool, Reservation, Resource
from ..nodeindex import NodeIndex
from ..selector import Selector

T = TypeVar("T")
TEXT_TESTS = {"contains": lambda actual, v: v in actual, "starts with": str.startswith,
              "ends with": str.endswith}


def same_object(a: Resource, b: Resource) -> bool:
    """One object in the cluster: same kind and name, whichever Calico API group says it."""
    if a.name != b.name or a.kind != b.kind:
        return False
    return a.api_version == b.api_version or (a.api_version in CALICO_API_VERSIONS
                                              and b.api_version in CALICO_API_VERSIONS)


POOL_GROUPS = frozenset({*CALICO_API_VERSIONS, OPERATOR})  # the API groups one pool may be named in


def normalized(resource: Resource | None) -> Any:
    """A pool or reservation is one object whichever API group (or the operator) names it."""
    if resource is None:
        return None
    if resource.api_version in POOL_GROUPS and resource.kind in ("IPPool", "IPReservation"):
        return ("calico", resource.kind, resource.name)
    return resource


class Change:
    """What one write does to the state. Pools and reservations are matched by name: a put replaces the
    objects of that name in place (or goes last), a drop removes those that are the same object.

    A plain slotted class: a frozen dataclass sets each field through `object.__setattr__`, and every
    request makes two of these (about 1 µs each)."""

    __slots__ = ("put_pools", "drop_pools", "put_node", "put_reservations", "drop_reservations", "manifests",
                 "touches_pools", "touches_reservations")

    def __init__(self, *, put_pools: tuple[Pool, ...] = (), drop_pools: tuple[Resource, ...] = (),
                 put_node: Node | None = None, put_reservations: tuple[Reservation, ...] = (),
                 drop_reservations: tuple[Resource, ...] = (), manifests: tuple[Manifest, ...] = ()) -> None:
        self.put_pools: Final = put_pools
        self.drop_pools: Final = drop_pools
        self.put_node: Final = put_node
        self.put_reservations: Final = put_reservations
        self.drop_reservations: Final = drop_reservations
        self.manifests: Final = manifests  # the written object, for schema rules
        self.touches_pools: Final = bool(put_pools or drop_pools)  # (asked a few times by every view call)
        self.touches_reservations: Final = bool(put_reservations or drop_reservations)


class Edit:
    """Where a change lands in one of the snapshot's lists: replaced and dropped positions, appended items."""

    def __init__(self, items: list[Any], by_name: dict[str, list[int]], puts: Iterable[Any],
                 drops: Iterable[Resource]) -> None:
        self.replaced: dict[int, Any] = {}
        self.dropped: set[int] = set()
        self.appended: list[Any] = []
        for item in puts:
            name = item.resource.name
            free = [i for i in by_name.get(name, ())
                    if name and i not in self.replaced and i not in self.dropped]
            if free:
                self.replaced[free[0]] = item
                self.dropped.update(free[1:])
            else:
                self.appended.append(item)
        for resource in drops:
            for i in by_name.get(resource.name, ()):
                if i not in self.replaced and same_object(items[i].resource, resource):
                    self.dropped.add(i)
        self.gone = self.dropped.union(self.replaced)  # base positions whose object is not in the result
        self.gone_ids = {id(items[i]) for i in self.gone} if self.gone else set()
        self.order: dict[int, int] = {}
        for i, item in self.replaced.items():
            self.order[id(item)] = i
        for j, item in enumerate(self.appended):
            self.order[id(item)] = len(items) + j
        self.added = [*self.replaced.values(), *self.appended]
        # nothing put or dropped: the snapshot's own list (never changed by a request)
        self.result: Sequence[Any] = items
        if self.gone or self.appended:
            self.result = EditedList(items, self.replaced, self.dropped, self.appended)


class BuiltOnRead(Sequence[T]):
    """A list whose length is known at once and whose items are built only when iterated or sliced
    (`_build`, once): what EditedList and PatchedList share."""

    _size: int

    def _build(self) -> Sequence[T]:
        raise NotImplementedError

    @cached_property
    def _items(self) -> Sequence[T]:
        return self._build()

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self._items[index]

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, as a list is


class EditedList(BuiltOnRead[T]):
    """A snapshot's list with a write's puts and drops applied, copied only when iterated or sliced.

    A DeltaView's cluster holds these (`cluster.pools`, `cluster.nodes`); a request reads them by position
    and length only (a node's entry, whether there are nodes), so it never copies 1,000 pools or 5,000
    nodes, a copy that touches every object of the list (a few µs a request). With nothing dropped, a
    position is the snapshot's own or a put item's; otherwise (a DELETE) the copy answers."""

    def __init__(self, items: Sequence[T], replaced: Mapping[int, T], dropped: Collection[int],
                 appended: Sequence[T]) -> None:
        self._base, self._replaced, self._dropped, self._appended = items, replaced, dropped, appended
        self._size = len(items) - len(dropped) + len(appended)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        if isinstance(index, int) and not self._dropped:
            at = index + self._size if index < 0 else index
            if 0 <= at < len(self._base):
                found = self._replaced.get(at)
                return self._base[at] if found is None else found
            if 0 <= at < self._size:
                return self._appended[at - len(self._base)]
            raise IndexError("list index out of range")
        return self._items[index]

    def _build(self) -> list[T]:
        found = list(self._base)
        for i, item in self._replaced.items():
            found[i] = item
        for i in sorted(self._dropped, reverse=True):
            del found[i]
        found.extend(self._appended)
        return found


def patched(items: Sequence[Any], positions: list[Any], gone: set[Any],
            inserts: list[tuple[Any, Any]]) -> list[Any]:
    """A copy of a sorted list (`positions` are its sort keys) without the `gone` keys and with `inserts`
    (key, item) put in their places: one merge, so an Installation's thousands of pools cost their
    number, not their number times the list's length."""
    kept = [(key, item) for key, item in zip(positions, items, strict=True) if key not in gone]
    added = sorted(inserts, key=lambda pair: pair[0])
    return [item for _, item in merge(added, kept, key=lambda pair: pair[0])]  # an insert before its equal


class PatchedList(BuiltOnRead[T]):
    """`patched(...)`, built only when it is read. Most rules only ask whether the list is empty, or hand
    it to `DeltaView.member_ids`, which answers from the base list: so a request that changes one pool
    costs that change, not a copy of the cluster's pools (1,000 pools made each request 0.2 ms slower)."""

    def __init__(self, items: Sequence[T], positions: list[Any], gone: set[Any],
                 inserts: list[tuple[Any, T]]) -> None:
        self._parts = items, positions, gone, inserts
        dropped = 0
        for key in gone:  # `gone` may hold keys the list never had
            at = bisect_left(positions, key)
            dropped += at < len(positions) and positions[at] == key
        self._size = len(items) - dropped + len(inserts)
        self._unchanged = not dropped and not inserts

    def _build(self) -> Sequence[T]:
        if self._unchanged:  # the base list itself (read only, as every list a view hands out)
            return self._parts[0]
        return patched(*self._parts)


class PatchedNodeIndex:
    """The snapshot's NodeIndex with one member's labels replaced, or one member added at the end."""

    members = staticmethod(NodeIndex.members)
    count = staticmethod(NodeIndex.count)

    def __init__(self, base: NodeIndex, position: int, labels: Mapping[str, str]) -> None:
        self._base, self._labels, self._bit = base, labels, 1 << position
        self.size = max(base.size, position + 1)
        self.all_bits = (1 << self.size) - 1

    def __len__(self) -> int:
        return self.size

    def _patch(self, bits: int, hit: bool) -> int:
        return (bits & ~self._bit) | (self._bit if hit else 0)

    def eq(self, key: str, value: str) -> int:
        return self._patch(self._base.eq(key, value), self._labels.get(key) == value)

    def has(self, key: str) -> int:
        return self._patch(self._base.has(key), key in self._labels)

    def values(self, key: str) -> Iterator[tuple[str, int]]:
        mine, seen = self._labels.get(key), False
        for value, bits in self._base.values(key):
            seen = seen or value == mine
            bits = self._patch(bits, value == mine)
            if bits:
                yield value, bits
        if mine is not None and not seen:
            yield mine, self._bit

    def text_match(self, key: str, op: str, needle: str) -> int:
        actual = self._labels.get(key)
        return self._patch(self._base.text_match(key, op, needle),
                           actual is not None and TEXT_TESTS[op](actual, needle))

    def select(self, selector: Selector) -> int:
        return selector.select(self)


class Members:
    """Ids of a patched pool list without building a set of them: the base list's, minus, plus."""

    def __init__(self, base: Container[int], gone: set[int], added: set[int]) -> None:
        self.base, self.gone, self.added = base, gone, added

    def __contains__(self, item: object) -> bool:
        return item in self.added or (item in self.base and item not in self.gone)


class ReservationOverlay:
    """The snapshot's reservation index without the dropped reservations and with the put ones."""

    def __init__(self, base: AddressIndex[Reservation], gone_ids: set[int], added: list[Reservation]) -> None:
        self._base, self._gone = base, gone_ids
        self._added = [(span(net), res) for res in added for net in res.networks]

    def overlapping(self, net: IPNet) -> list[Reservation]:
        found = [r for r in self._base.overlapping(net) if id(r) not in self._gone]
        if self._added:
            wanted = span(net)
            found += [r for held, r in self._added if meets(held, wanted)]
        return found
