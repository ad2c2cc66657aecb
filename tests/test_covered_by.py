"""`addresses.covered_by` (reservations that add up to a whole pool) against a brute-force address count."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from validator.addresses import covered_by

BASE = int(ipaddress.IPv4Address("10.0.0.0"))


@st.composite
def block(draw: st.DrawFn, widest: int = 23, narrowest: int = 31) -> ipaddress.IPv4Network:
    """A CIDR inside 10.0.0.0/23: nested, adjacent and disjoint blocks all come up."""
    prefix = draw(st.integers(widest, narrowest))
    index = draw(st.integers(0, 2 ** (prefix - 23) - 1))
    return ipaddress.IPv4Network((BASE + index * 2 ** (32 - prefix), prefix))


def addresses(net: ipaddress.IPv4Network) -> set[int]:
    return set(range(int(net.network_address), int(net.broadcast_address) + 1))


@settings(max_examples=300, deadline=None)
@given(net=block(23, 28), ranges=st.lists(block(), max_size=12), ipv6=st.booleans())
def test_covered_by_agrees_with_counting_addresses(net: ipaddress.IPv4Network,
                                                   ranges: list[ipaddress.IPv4Network], ipv6: bool) -> None:
    union = set().union(*(addresses(r) for r in ranges)) if ranges else set()
    other_family = [ipaddress.IPv6Network("::/0")] if ipv6 else []  # never counts for an IPv4 pool
    assert covered_by(net, [*other_family, *ranges]) == (addresses(net) <= union)


def test_halves_and_quarters_add_up_and_a_gap_does_not() -> None:
    pool = ipaddress.ip_network("10.1.0.0/24")
    pieces = [ipaddress.ip_network(c) for c in ("10.1.0.0/25", "10.1.0.128/26", "10.1.0.192/26")]
    assert covered_by(pool, pieces)
    assert not covered_by(pool, pieces[:2])
    assert covered_by(pool, [ipaddress.ip_network("10.0.0.0/8")])
    assert not covered_by(ipaddress.ip_network("fd00::/64"), [ipaddress.ip_network("10.0.0.0/8")])
