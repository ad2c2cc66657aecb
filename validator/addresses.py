"""An index of pools by address range: which pools overlap a CIDR, in time that does not grow with the pools.

CIDR blocks never partly overlap: two are either disjoint or one contains the other. So the pools that
overlap a CIDR X are (a) those whose CIDR is a supernet of X or X itself, found by looking up each of
X's at most 33 (IPv4) or 129 (IPv6) supernets in a hash table, and (b) those inside X, a contiguous run of
the pools sorted by first address, found by bisection. No pair of pools is ever compared blindly.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address
T = TypeVar("T")
Key = tuple[int, int, int]  # (version, first address, prefix length)


class AddressError(ValueError):
    """Text that Go's net.ParseIP / net.ParseCIDR (what Calico uses) would refuse; the text says why."""


def parse_address(text: str) -> IPAddr:
    """An IP address as Go parses one: Python's ipaddress also takes an IPv6 zone (`fe80::1%eth0`), which
    net.ParseIP refuses, so a zone is refused here."""
    if "%" in text:
        zone = text[text.index("%"):].split("/")[0]
        raise AddressError(f"{text!r} has an IPv6 zone ({zone}), which Calico cannot parse")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise AddressError(f"{text!r} is not an IP address") from None


def parse_network(text: str, strict: bool = True) -> IPNet:
    """A CIDR as Go's net.ParseCIDR reads it (the one parser for pools, reservations, policy ranges and the
    operator's pools). Python's ipaddress is wider: it takes a zone (`2001:db8::%eth0/64`), a netmask
    (`10.0.0.0/255.255.0.0`) and a bare address; net.ParseCIDR refuses all three. With `strict`, host bits
    are an error too (Calico wants pools "strictly masked")."""
    address, slash, prefix = text.partition("/")
    if not slash:
        raise AddressError(f"{text!r} is not a CIDR (no /prefix)")
    if "%" in address:
        parse_address(address)  # says which zone
    if not (prefix.isascii() and prefix.isdigit()):
        parse_address(address)  # a bad address is the first thing to say
        raise AddressError(f"{text!r} is not a CIDR (the prefix must be a number of bits)")
    try:
        return ipaddress.ip_network(text, strict=strict)
    except ValueError as err:
        parse_address(address)  # the address's own error, when that is what is wrong
        raise AddressError(f"{text!r} is not a CIDR ({err})") from None


def key_of(net: IPNet) -> Key:
    return (net.version, int(net.network_address), net.prefixlen)


class AddressIndex(Generic[T]):
    """Items (pools) indexed by their network; `overlapping(net)` returns every item whose range meets net."""

    def __init__(self, items: Iterable[tuple[IPNet, T]]) -> None:
        self._exact: dict[Key, list[T]] = defaultdict(list)
        entries: list[tuple[int, int, int, int]] = []  # version, first, last, position
        self._items: list[T] = []
        for net, item in items:
            self._exact[key_of(net)].append(item)
            _, first, last = span(net)
            entries.append((net.version, first, last, len(self._items)))
            self._items.append(item)
        entries.sort()
        self._starts = [(v, first) for v, first, _, _ in entries]
        self._entries = entries
        prefixes: dict[int, set[int]] = defaultdict(set)
        for version, _, prefix in self._exact:
            prefixes[version].add(prefix)
        # per version, the prefix lengths indexed, longest first: a supernet lookup tries only those (one or
        # two for most clusters), not every length from the net's up to /0 (129 for IPv6)
        self._prefixes = {version: sorted(found, reverse=True) for version, found in prefixes.items()}

    def supernets(self, net: IPNet) -> Iterator[T]:
        """Items whose network contains net, net itself included."""
        value = int(net.network_address)
        width, length = net.max_prefixlen, net.prefixlen
        for prefix in self._prefixes.get(net.version, ()):
            if prefix <= length:
                mask = ((1 << width) - 1) ^ ((1 << (width - prefix)) - 1)
                yield from self._exact.get((net.version, value & mask, prefix), ())

    def subnets(self, net: IPNet) -> Iterator[T]:
        """Items whose network lies inside net and is strictly smaller."""
        _, first, last = span(net)
        start = bisect.bisect_left(self._starts, (net.version, first))
        entries = self._entries
        for i in range(start, len(entries)):  # not entries[start:]: a copy per lookup is quadratic
            version, item_first, item_last, position = entries[i]
            if version != net.version or item_first > last:
                break
            if item_last <= last and (item_first, item_last) != (first, last):
                yield self._items[position]

    def overlapping(self, net: IPNet) -> list[T]:
        """`supernets` then `subnets`, in one pass without generators (the webhook asks this per pool)."""
        version, first, last = span(net)
        width, length = net.max_prefixlen, net.prefixlen
        found: list[T] = []
        exact = self._exact
        for prefix in self._prefixes.get(version, ()):
            if prefix <= length:
                held = exact.get((version, first >> (width - prefix) << (width - prefix), prefix))
                if held:
                    found += held
        entries, items = self._entries, self._items
        for i in range(bisect.bisect_left(self._starts, (version, first)), len(entries)):
            entry_version, item_first, item_last, position = entries[i]
            if entry_version != version or item_first > last:
                break
            if item_last <= last and (item_first != first or item_last != last):
                found.append(items[position])
        return found


def _public_span(net: IPNet) -> tuple[int, int, int]:
    first = int(net.network_address)
    return net.version, first, first | ((1 << (net.max_prefixlen - net.prefixlen)) - 1)


def _stored_span(net: Any) -> tuple[int, int, int]:
    first = net.network_address._ip
    return net._version, first, first | ((1 << (net._max_prefixlen - net._prefixlen)) - 1)


def _stored_fields_agree() -> bool:
    """ipaddress keeps what span reads in plain attributes (`_ip`, `_prefixlen`, `_max_prefixlen`,
    `_version`, all CPython versions since 3.3); read through its public properties they cost five Python
    calls a span, several spans a webhook request. If a Python ever stores them otherwise, the public
    properties are used."""
    try:
        return all(_stored_span(net) == _public_span(net) for net in (
            ipaddress.ip_network("10.1.0.0/16"), ipaddress.ip_network("2001:db8::/64")))
    except AttributeError:
        return False


# span(net): (version, first address, last address) of a network as ints: `meets` and `within` compare these,
# as ipaddress's `overlaps` and `subnet_of` would, without building address objects on every call.
span: Callable[[IPNet], tuple[int, int, int]] = _stored_span if _stored_fields_agree() else _public_span


def meets(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    """Two spans of one IP version share an address (`IPv4Network.overlaps`)."""
    return a[0] == b[0] and a[1] <= b[2] and b[1] <= a[2]


def within(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    """Span `a` lies in span `b`, of the same version (`IPv4Network.subnet_of`)."""
    return a[0] == b[0] and b[1] <= a[1] and a[2] <= b[2]


def intersection(a: IPNet, b: IPNet) -> IPNet:
    """The overlap of two overlapping CIDRs: the smaller of the two."""
    return a if a.prefixlen >= b.prefixlen else b


def covered_by(net: IPNet, ranges: Iterable[IPNet]) -> bool:
    """True when the union of `ranges` covers every address of `net` (reservations that add up to a pool).

    CIDRs never partly overlap, so the union covers `net` when one range contains it, or when the ranges
    inside it, swept in address order as integer spans, leave no gap: what `ipaddress.collapse_addresses`
    would merge into `net` itself, without building a network per merged block (a /32 reserved in a /22
    cost 15 µs that way)."""
    whole = span(net)
    inside: list[tuple[int, int]] = []
    for other in ranges:
        part = span(other)
        if part[0] != whole[0]:
            continue
        if within(whole, part):
            return True
        if within(part, whole):
            inside.append((part[1], part[2]))
    inside.sort()
    reached = whole[1]  # the first address not yet covered
    for first, last in inside:
        if first > reached:
            return False
        reached = max(reached, last + 1)
    return reached > whole[2]
