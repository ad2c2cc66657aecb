"""One reading of a CIDR as written serves cidr-invalid, ipreservation-invalid, pool-immutable-field and the
policy file's checks; each says in its own words what is wrong."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from validator.model import parse_cidr, read_cidr


@pytest.mark.parametrize(("text", "shape", "network", "address"), [
    ("10.0.0.0/16", "network", "10.0.0.0/16", None),
    ("fd00::/64", "network", "fd00::/64", None),
    ("10.0.1.0/16", "host-bits", "10.0.0.0/16", None),
    ("fd00::1/64", "host-bits", "fd00::/64", None),
    ("10.0.0.1", "address", None, "10.0.0.1"),
    ("fd00::1", "address", None, "fd00::1"),
    ("10.0.0.0/33", "invalid", None, None),
    ("10.0.0/16", "invalid", None, None),
    ("", "invalid", None, None),
    ("rack-1", "invalid", None, None),
])
def test_each_shape_of_text(text: str, shape: str, network: str | None, address: str | None) -> None:
    reading = read_cidr(text)
    assert reading.shape == shape
    assert (str(reading.network) if reading.network else None) == network
    assert (str(reading.address) if reading.address else None) == address
    assert reading.network_masked == (ipaddress.ip_network(network) if network else None)
    assert parse_cidr(text) == (reading.network if shape == "network" else None)


def _reference(text: str) -> str:
    """The three diagnoses as they were written before they shared one reading."""
    if "/" not in text:
        try:
            ipaddress.ip_address(text)
        except ValueError:
            return "invalid"
        return "address"
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return "invalid"
    try:
        ipaddress.ip_network(text, strict=True)
    except ValueError:
        return "host-bits"
    return "network"


ADDRESSISH = st.text(alphabet="0123456789abcdef.:/", max_size=24)


@given(st.one_of(ADDRESSISH, st.ip_addresses().map(str), st.builds(
    lambda a, p: f"{a}/{p}", st.ip_addresses(), st.integers(min_value=0, max_value=130))))
def test_the_reading_agrees_with_the_diagnoses_it_replaced(text: str) -> None:
    assert read_cidr(text).shape == _reference(text)
