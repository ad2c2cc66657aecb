"""Evaluate many selectors over many nodes at once, with label sets as bits of a Python int.

A cluster check asks "which nodes does each pool select?" for every pool and often for every
hypothetical change to a pool. Evaluating each selector against each node is O(selectors x nodes) in
Python; here each node is one bit, an inverted index maps ``key -> value -> bits``, and a selector is
evaluated once over all nodes by ``&``, ``|`` and ``~`` on arbitrary-precision ints (C loops over
machine words). ``selector.Expr.select`` defines the algebra; this module only provides the sets.

Memory stays O(total labels): a value held by a single node (a hostname) is stored as that node's
index and turned into ``1 << i`` only when asked for, so 10,000 unique hostnames do not cost
10,000 bitsets of 10,000 bits.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence

from validator.selector import Selector, parse_selector

__all__ = ["NodeIndex"]

SPARSE_MEMBERS = 64  # below this many members, peeling set bits beats one scan of all the binary digits


def _bits_of(indices: list[int]) -> int:
    """The set of ``indices`` (ascending) as an int, in O(len(indices) + largest index / 8)."""
    if len(indices) == 1:
        return 1 << indices[0]
    buffer = bytearray((indices[-1] >> 3) + 1)
    for i in indices:
        buffer[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(buffer, "little")


def _bits_of_any(indices: Iterable[int], size: int) -> int:
    """The set of ``indices`` in any order, in O(len(indices) + size / 8)."""
    buffer = bytearray((size >> 3) + 1)
    for i in indices:
        buffer[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(buffer, "little")


def union_of(sets: Iterable[int], all_bits: int, size: int) -> int:
    """The union of many member sets, near-linear in their members: OR-ing each into a growing node-wide
    int copies that int once per set (quadratic over many small pools); sparse sets are gathered as
    positions and set in one pass, dense ones OR-ed."""
    dense, positions = 0, []
    for bits in sets:
        if bits == all_bits:
            return bits
        if bits.bit_count() < SPARSE_MEMBERS:
            positions += NodeIndex.members(bits)
        else:
            dense |= bits
    return dense | _bits_of_any(positions, size) if positions else dense


class _TextIndex:
    """One key's distinct values arranged for ``starts with`` (sorted), ``ends with`` (sorted reversed)
    and ``contains`` (one joined string searched by ``str.find`` in C), so none loops over every value."""

    SEPARATOR = "\x00"

    def __init__(self, values: Iterable[str]) -> None:
        self.values = sorted(values)
        self.reversed = sorted(value[::-1] for value in self.values)
        self.joined = self.SEPARATOR.join(self.values)
        self.starts: list[int] = []
        offset = 0
        for value in self.values:
            self.starts.append(offset)
            offset += len(value) + 1

    def matching(self, op: str, needle: str) -> Iterator[str]:
        """The distinct values for which ``value <op> needle`` holds."""
        if op == "starts with":
            yield from _with_prefix(self.values, needle)
        elif op == "ends with":
            yield from (value[::-1] for value in _with_prefix(self.reversed, needle[::-1]))
        elif op != "contains":
            raise ValueError(f"not a text operator: {op!r}")
        elif needle == "" or self.SEPARATOR in needle:
            yield from (value for value in self.values if needle in value)
        else:
            at = self.joined.find(needle)
            while at >= 0:
                i = bisect_right(self.starts, at) - 1
                yield self.values[i]
                at = self.joined.find(needle, self.starts[i] + len(self.values[i]) + 1)


def _with_prefix(ordered: list[str], prefix: str) -> Iterator[str]:
    """Values starting with ``prefix`` are one run in sorted order: find it, walk it."""
    for i in range(bisect_left(ordered, prefix), len(ordered)):
        if not ordered[i].startswith(prefix):
            return
        yield ordered[i]


def _decode(stored: int) -> int:
    """A negative entry ``~i`` stands for the single member ``i``; bitsets are never negative."""
    return stored if stored >= 0 else 1 << ~stored


class NodeIndex:
    """A ``LabelIndex`` over a sequence of label mappings: bit ``i`` is ``label_sets[i]``.

    Callers that have many identical label sets (nodes of one node pool) should index the distinct
    sets and map results back: the index is only as large as what it is given.
    """

    def __init__(self, label_sets: Sequence[Mapping[str, str]]) -> None:
        members: dict[str, dict[str, list[int]]] = {}
        key_members: dict[str, list[int]] = {}
        for i, labels in enumerate(label_sets):
            for key, value in labels.items():
                by_value = members.get(key)
                if by_value is None:
                    by_value = members[key] = {}
                    key_members[key] = []
                by_value.setdefault(value, []).append(i)
                key_members[key].append(i)
        self.size = len(label_sets)
        self.all_bits = (1 << self.size) - 1
        self._index: dict[str, dict[str, int]] = {
            key: {value: ~ms[0] if len(ms) == 1 else _bits_of(ms) for value, ms in by_value.items()}
            for key, by_value in members.items()
        }
        self._key_members = key_members
        self._has: dict[str, int] = {}
        self._text: dict[str, _TextIndex] = {}
        self._selected: dict[str, int] = {}

    def __len__(self) -> int:
        return self.size

    def eq(self, key: str, value: str) -> int:
        by_value = self._index.get(key)
        if by_value is None:
            return 0
        return _decode(by_value.get(value, 0))

    def has(self, key: str) -> int:
        bits = self._has.get(key)
        if bits is None:
            indices = self._key_members.get(key)
            bits = self._has[key] = _bits_of(indices) if indices else 0
        return bits

    def values(self, key: str) -> Iterator[tuple[str, int]]:
        for value, stored in self._index.get(key, {}).items():
            yield value, _decode(stored)

    def text_match(self, key: str, op: str, needle: str) -> int:
        """Members whose ``key`` value ``contains`` / ``starts with`` / ``ends with`` ``needle``."""
        by_value = self._index.get(key)
        if by_value is None:
            return 0
        text = self._text.get(key)
        if text is None:
            text = self._text[key] = _TextIndex(by_value)
        bits, singles = 0, []
        for value in text.matching(op, needle):
            stored = by_value[value]
            if stored < 0:
                singles.append(~stored)
            else:
                bits |= stored
        return bits | _bits_of_any(singles, self.size) if singles else bits

    def select(self, selector: Selector | str) -> int:
        """The members ``selector`` matches, memoised by canonical text (equal selectors share a result)."""
        if isinstance(selector, str):
            selector = parse_selector(selector)
        canonical = str(selector)
        bits = self._selected.get(canonical)
        if bits is None:
            bits = self._selected[canonical] = selector.select(self)
        return bits

    @staticmethod
    def members(bits: int) -> list[int]:
        """Indices of the set bits, ascending, in time near-linear in the members, not in the width.

        A pool's node set is an int as wide as its highest node's position, so `bin()` of it costs the
        width per pool: quadratic over many pools of a few nodes each. A sparse set (most: a rack's
        pools) is peeled from the top, one C-level step per member; a dense one is scanned once.
        """
        if bits < 0:
            raise ValueError("a member set cannot be negative")
        if bits.bit_count() < SPARSE_MEMBERS:
            found: list[int] = []
            while bits:
                top = bits.bit_length() - 1
                found.append(top)
                bits ^= 1 << top
            found.reverse()
            return found
        digits = bin(bits)[:1:-1]  # least significant first, without the '0b' prefix
        found = []
        i = digits.find("1")
        while i >= 0:
            found.append(i)
            i = digits.find("1", i + 1)
        return found

    @staticmethod
    def count(bits: int) -> int:
        return bits.bit_count()
