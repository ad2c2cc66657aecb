"""Property tests for Calico parity: a random pool that Calico accepts draws no error finding, and the same
pool with one field broken the way Calico rejects draws an error from exactly the rule meant for it.

Valid pools are built inside private ranges with block sizes and prefixes in Calico's bounds, encapsulation,
uses and selectors combined as Calico's CEL rules allow (api/pkg/apis/projectcalico/v3/ippool.go).
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from validator.addresses import span
from validator.engine import run
from validator.model import Cluster
from validator.sources.manifests import objects_from_document

Spec = dict[str, Any]
BASES = {4: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"], 6: ["fd00::/8"]}
SELECTORS = ["all()", "", 'rack == "1"', "has(zone)", 'zone in {"a", "b"}', "!has(edge)",
             'tier != "db" && has(kubernetes.io/hostname)']
MODES = ["Never", "Always", "CrossSubnet"]


@st.composite
def valid_pools(draw: st.DrawFn) -> dict[str, Any]:
    """An IPPool manifest (v3 or v1) that Calico accepts."""
    version = draw(st.sampled_from([4, 6]))
    base = ipaddress.ip_network(draw(st.sampled_from(BASES[version])))
    low, high, default = (20, 32, 26) if version == 4 else (116, 128, 122)
    size_mode = draw(st.sampled_from(["absent", "zero", "explicit"]))
    block = draw(st.integers(low, high)) if size_mode == "explicit" else default
    prefix = draw(st.integers(base.prefixlen, block))
    index = draw(st.integers(0, (1 << (prefix - base.prefixlen)) - 1))
    first = int(base.network_address) + (index << (base.max_prefixlen - prefix))
    network = ipaddress.ip_network((first, prefix))
    spec: Spec = {"cidr": str(network)}
    if size_mode != "absent":
        spec["blockSize"] = 0 if size_mode == "zero" else block
    uses = draw(st.sampled_from([None, [], ["Workload"], ["Tunnel"], ["Workload", "Tunnel"],
                                 ["LoadBalancer"]]))
    load_balancer = uses == ["LoadBalancer"]
    if uses is not None:
        spec["allowedUses"] = uses
    ipip = draw(st.sampled_from([None, "Never"] if version == 6 or load_balancer else [None, *MODES]))
    vxlan_choices = [None, "Never"] if load_balancer or ipip in ("Always", "CrossSubnet") else [None, *MODES]
    vxlan = draw(st.sampled_from(vxlan_choices))
    for field, value in (("ipipMode", ipip), ("vxlanMode", vxlan)):
        if value is not None:
            spec[field] = value
    for field in ("natOutgoing", "disabled", "disableBGPExport"):
        value = draw(st.sampled_from([None, True, False]))
        if value is not None and not (field == "disableBGPExport" and load_balancer and value):
            spec[field] = value
    selector = draw(st.sampled_from([None, "all()"] if load_balancer else [None, *SELECTORS]))
    if selector is not None:
        spec["nodeSelector"] = selector
    if uses in (["Workload"], ["LoadBalancer"]) and draw(st.booleans()):
        spec["namespaceSelector"] = draw(st.sampled_from(SELECTORS[1:]))
    mode = draw(st.sampled_from([None, "Automatic", "Manual"]))
    if mode is not None:
        spec["assignmentMode"] = mode
    name = draw(st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True))
    api = draw(st.sampled_from(["projectcalico.org/v3", "crd.projectcalico.org/v1"]))
    return {"apiVersion": api, "kind": "IPPool", "metadata": {"name": name}, "spec": spec}


def errors(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    cluster = Cluster()
    objects_from_document("pool.yaml", manifest, None, cluster)
    return [(f.rule, f.message) for f in run(cluster).findings if f.severity == "error"]


@dataclass(frozen=True)
class Corruption:
    """One way to break one field as Calico rejects it, and the rule that must report it."""

    name: str
    rule: str
    applies: Callable[[Spec], bool]
    apply: Callable[[dict[str, Any]], None]


def _net(spec: Spec) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(spec["cidr"])


def _v4(spec: Spec) -> bool:
    return _net(spec).version == 4


def _block(spec: Spec) -> int:
    size = spec.get("blockSize") or 0
    return size or (26 if _v4(spec) else 122)


def _uses(spec: Spec) -> list[str]:
    return spec.get("allowedUses") or ["Workload", "Tunnel"]


def _lb(spec: Spec) -> bool:
    return "LoadBalancer" in _uses(spec)


def _enabled(spec: Spec, field: str) -> bool:
    return spec.get(field) in ("Always", "CrossSubnet")


def _same_prefix(spec: Spec, text: str) -> str:
    net = _net(spec)
    return str(ipaddress.ip_network(f"{text}/{net.prefixlen}", strict=False))


def setter(field: str, value: Callable[[Spec], Any]) -> Callable[[dict[str, Any]], None]:
    def apply(manifest: dict[str, Any]) -> None:
        manifest["spec"][field] = value(manifest["spec"])
    return apply


def remover(field: str) -> Callable[[dict[str, Any]], None]:
    def apply(manifest: dict[str, Any]) -> None:
        manifest["spec"].pop(field, None)
    return apply


def rename(manifest: dict[str, Any]) -> None:
    manifest["metadata"]["name"] = "Bad_Name"


ALWAYS: Callable[[Spec], bool] = lambda spec: True  # noqa: E731
CORRUPTIONS = [
    Corruption("host bits", "cidr-invalid", lambda s: _net(s).prefixlen < _net(s).max_prefixlen,
               setter("cidr", lambda s: f"{_net(s).network_address + 1}/{_net(s).prefixlen}")),
    Corruption("bare address", "cidr-invalid", ALWAYS,
               setter("cidr", lambda s: str(_net(s).network_address))),
    Corruption("prefix too long", "cidr-invalid", ALWAYS,
               setter("cidr", lambda s: f"{_net(s).network_address}/{_net(s).max_prefixlen + 1}")),
    Corruption("cidr not a string", "schema-invalid", ALWAYS, setter("cidr", lambda s: 167772160)),
    Corruption("cidr missing", "schema-invalid", ALWAYS, remover("cidr")),
    Corruption("link-local", "cidr-link-local", ALWAYS,
               setter("cidr", lambda s: _same_prefix(s, "169.254.0.0" if _v4(s) else "fe80::"))),
    Corruption("loopback or multicast", "cidr-reserved", ALWAYS,
               setter("cidr", lambda s: _same_prefix(s, "127.0.0.0" if _v4(s) else "ff00::"))),
    Corruption("block size out of range", "block-size-invalid", ALWAYS,
               setter("blockSize", lambda s: 33 if _v4(s) else 115)),
    Corruption("block size below range", "block-size-invalid", ALWAYS,
               setter("blockSize", lambda s: 19 if _v4(s) else 64)),
    Corruption("block size a string", "schema-invalid", ALWAYS, setter("blockSize", lambda s: "26")),
    Corruption("pool smaller than block", "pool-smaller-than-block",
               lambda s: s.get("disabled") is not True and _net(s).prefixlen > (20 if _v4(s) else 116),
               setter("blockSize", lambda s: _net(s).prefixlen - 1)),
    Corruption("ipipMode lower case", "schema-invalid", ALWAYS, setter("ipipMode", lambda s: "always")),
    Corruption("vxlanMode unknown", "schema-invalid", ALWAYS, setter("vxlanMode", lambda s: "Sometimes")),
    Corruption("both encapsulations", "encapsulation-invalid",
               lambda s: _v4(s) and _enabled(s, "vxlanMode") and not _lb(s),
               setter("ipipMode", lambda s: "Always")),
    Corruption("IPIP on IPv6", "encapsulation-invalid", lambda s: not _v4(s) and not _lb(s),
               setter("ipipMode", lambda s: "CrossSubnet")),
    Corruption("natOutgoing a string", "schema-invalid", ALWAYS,
               setter("natOutgoing", lambda s: "true")),
    Corruption("disabled a string", "schema-invalid", ALWAYS, setter("disabled", lambda s: "yes")),
    Corruption("selector does not parse", "selector-invalid", ALWAYS,
               setter("nodeSelector", lambda s: "rack == 1")),
    Corruption("global() selector", "selector-invalid", ALWAYS,
               setter("nodeSelector", lambda s: "global()")),
    Corruption("selector too long", "selector-invalid", ALWAYS,
               setter("nodeSelector", lambda s: 'a == "' + "x" * 1020 + '"')),
    Corruption("selector not a string", "schema-invalid", ALWAYS, setter("nodeSelector", lambda s: 7)),
    Corruption("LoadBalancer off all()", "load-balancer-invalid", _lb,
               setter("nodeSelector", lambda s: "has(edge)")),
    Corruption("LoadBalancer with BGP export off", "load-balancer-invalid", _lb,
               setter("disableBGPExport", lambda s: True)),
    Corruption("LoadBalancer with IPIP", "load-balancer-invalid", lambda s: _lb(s) and _v4(s),
               setter("ipipMode", lambda s: "Always")),
    Corruption("LoadBalancer with Workload", "load-balancer-invalid",
               lambda s: not _enabled(s, "ipipMode") and not _enabled(s, "vxlanMode")
               and s.get("disableBGPExport") is not True and s.get("nodeSelector") in (None, "all()")
               and not s.get("namespaceSelector"),
               setter("allowedUses", lambda s: ["LoadBalancer", "Workload"])),
    Corruption("allowedUses unknown", "schema-invalid", lambda s: not s.get("namespaceSelector"),
               setter("allowedUses", lambda s: ["Garbage"])),
    Corruption("allowedUses twice", "schema-invalid", lambda s: not s.get("namespaceSelector") and not _lb(s),
               setter("allowedUses", lambda s: ["Workload", "Workload"])),
    Corruption("Tunnel with namespaceSelector", "tunnel-namespace-selector", lambda s: "Tunnel" in _uses(s),
               setter("namespaceSelector", lambda s: 'team == "a"')),
    Corruption("assignmentMode empty", "schema-invalid", ALWAYS, setter("assignmentMode", lambda s: "")),
    Corruption("legacy ipip", "legacy-field-set", ALWAYS, setter("ipip", lambda s: {"enabled": True})),
    Corruption("legacy nat-outgoing", "legacy-field-set", ALWAYS, setter("nat-outgoing", lambda s: True)),
    Corruption("unknown field", "schema-invalid", ALWAYS, setter("ipipmode", lambda s: "Always")),
    Corruption("bad name", "schema-invalid", ALWAYS, rename),
]

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(valid_pools())
def test_pools_calico_accepts_draw_no_error(manifest: dict[str, Any]) -> None:
    assert errors(manifest) == [], manifest


@pytest.mark.parametrize("corruption", CORRUPTIONS, ids=lambda c: c.name.replace(" ", "-"))
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(manifest=valid_pools())
def test_one_broken_field_fires_exactly_its_rule(corruption: Corruption, manifest: dict[str, Any]) -> None:
    assume(corruption.applies(manifest["spec"]))
    broken = copy.deepcopy(manifest)
    corruption.apply(broken)
    found = errors(broken)
    assert {rule for rule, _ in found} == {corruption.rule}, (broken["spec"], found)


def test_every_corruption_can_apply_to_some_valid_pool() -> None:
    """Guards against a corruption whose condition no generated pool meets (it would never be tested)."""
    samples = [
        {"cidr": "10.0.0.0/24", "vxlanMode": "Always"},
        {"cidr": "fd00::/120"},
        {"cidr": "10.1.0.0/24", "allowedUses": ["LoadBalancer"]},
    ]
    for corruption in CORRUPTIONS:
        assert any(corruption.applies(s) for s in samples), corruption.name


EDGES = [0, 10 << 24, 172 << 24 | 16 << 16, 192 << 24 | 168 << 16, 100 << 24 | 64 << 16, 127 << 24, 224 << 24,
         169 << 24 | 254 << 16, 255 << 24]  # the ranges' starts: nested and straddling networks come up


@settings(max_examples=600, deadline=None)
@given(first=st.one_of(st.integers(0, 2**32 - 1),
                       st.tuples(st.sampled_from(EDGES), st.integers(-(2**20), 2**22)).map(
                           lambda pair: min(max(pair[0] + pair[1], 0), 2**32 - 1))),
       prefix=st.integers(0, 32))
def test_cidr_public_ranges_nest_and_meet_as_ipaddress_says(first: int, prefix: int) -> None:
    """cidr-public's range tests (written as plain loops over spans) answer as ipaddress's `subnet_of` and
    `overlaps` over the same ranges, for any IPv4 network: private space, and the ranges other rules own."""
    from validator.rules import cidr_public

    net = ipaddress.IPv4Network((first, prefix), strict=False)
    elsewhere = [n for n, _ in cidr_public.RESERVED_RANGES if n.version == 4] + [cidr_public.LINK_LOCAL[4]]
    mine = span(net)
    assert cidr_public._private(mine) == any(net.subnet_of(p) for p in cidr_public.PRIVATE_IPV4)
    assert cidr_public._reported_elsewhere(mine) == any(net.overlaps(o) for o in elsewhere)
