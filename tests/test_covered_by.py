"""`addresses.covered_by` (reservations that add up to a whole pool) against a brute-force address count."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from validator import addresses as address_module
from validator.addresses import covered_by, meets, span, within

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


@st.composite
def any_network(draw: st.DrawFn) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A network of either family, of any prefix length, near others often enough to overlap."""
    if draw(st.booleans()):
        prefix = draw(st.integers(0, 32))
        address = draw(st.sampled_from([0, BASE, BASE + 256, 0xE0000000, 0xFFFFFFFF]))
        return ipaddress.IPv4Network((address >> (32 - prefix) << (32 - prefix), prefix))
    prefix = draw(st.integers(0, 128))
    address = draw(st.sampled_from([0, 1, 0xFE80 << 112, 0xFD00 << 112, (1 << 128) - 1]))
    return ipaddress.IPv6Network((address >> (128 - prefix) << (128 - prefix), prefix))


@settings(max_examples=500, deadline=None)
@given(a=any_network(), b=any_network())
def test_spans_meet_and_nest_as_the_networks_do(a: ipaddress.IPv4Network | ipaddress.IPv6Network,
                                                b: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
    """`meets` and `within` over `span`s answer as ipaddress's overlaps and subnet_of, across families."""
    same = a.version == b.version
    assert meets(span(a), span(b)) == (same and a.overlaps(b))  # type: ignore[arg-type]
    assert within(span(a), span(b)) == (same and a.subnet_of(b))  # type: ignore[arg-type]


@settings(max_examples=500, deadline=None)
@given(net=any_network())
def test_span_read_from_stored_fields_is_the_public_one(
        net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
    """`span` reads ipaddress's stored fields when they say what its public properties say (CPython, every
    version we support); across both families, from /0 to host routes, the two readings agree."""
    assert address_module.span is address_module._stored_span  # the fast reading is the one in use here
    assert address_module._stored_span(net) == address_module._public_span(net)
