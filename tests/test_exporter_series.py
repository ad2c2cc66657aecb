"""The exporter's series (docs/metrics.md) from an audit of generated dumps, compared as exact text.

The cluster is tests/ipam_support.py's planted one (three racks, dual-stack rack 1, n0 at its
maxBlocksPerHost of 2, a leak past and one within grace, an IPv6 tunnel of a deleted node, an orphaned and
a missing handle, a stale affinity) plus a node no pool selects and a disabled pool holding an invalid
unaffine block. Every expected number below is worked out by hand in the comments, not read back from the
code."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import ipam_support as s
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from validator.audit.core import audit
from validator.audit.dumps import read_dumps
from validator.audit.model import AuditPolicy, AuditState
from validator.exporter.series import Snapshot, process_families, snapshot

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


class _Fixed:
    def __init__(self, snap: Snapshot, failures: int = 0) -> None:
        self.snap, self.failures = snap, failures

    def collect(self):  # type: ignore[no-untyped-def]
        yield from self.snap.families
        yield from process_families(self.snap, self.failures)


def exposition(snap: Snapshot, failures: int = 0) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(snap, failures))  # type: ignore[arg-type]
    return generate_latest(registry).decode()


def samples(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def parsed(lines: list[str]) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
    """(name, labels, value) of each sample line, in order; label order is the library's affair."""
    out = []
    for family in text_string_to_metric_families("\n".join(lines) + "\n"):
        out += [(x.name, tuple(sorted(x.labels.items())), x.value) for x in family.samples]
    return out


def cluster(folder: Path) -> AuditState:
    s.write_planted(folder, NOW)
    spare = s.ippool("spare-ippool", "10.9.0.0/24", "all()", 26)
    spare["spec"]["disabled"] = True
    broken = s.block("10.9.0.0/26", {})  # unaffine; says 63 free ordinals of its 64, none allocated
    broken["spec"]["unallocated"] = broken["spec"]["unallocated"][1:]
    s.write(folder / "extra.json", [spare, broken, s.node("n-lonely", {"rack": "9"})])
    return read_dumps([str(folder)], NOW)


@pytest.fixture
def snap(tmp_path: Path) -> Snapshot:
    state = cluster(tmp_path)
    return snapshot(state, audit(state, NOW), finished_at=1_764_579_600.0, duration=0.25)


POOLS = [
    'ippool_validator_pool_info{pool="rack-0-ippool",ippool="rack-0-ippool",cidr="10.0.0.0/25",family="4",'
    'block_size="26",disabled="false"} 1.0',
    'ippool_validator_pool_info{pool="rack-1-ippool",ippool="rack-1-ippool",cidr="10.0.1.0/24",family="4",'
    'block_size="26",disabled="false"} 1.0',
    'ippool_validator_pool_info{pool="rack-1-ipv6-ippool",ippool="rack-1-ipv6-ippool",cidr="fd00:10::/120",'
    'family="6",block_size="122",disabled="false"} 1.0',
    'ippool_validator_pool_info{pool="spare-ippool",ippool="spare-ippool",cidr="10.9.0.0/24",family="4",'
    'block_size="26",disabled="true"} 1.0',
    # rack-0: a /25 of /26 is 2 blocks, both n0's
    'ippool_validator_pool_blocks{pool="rack-0-ippool",state="allocated"} 2.0',
    'ippool_validator_pool_blocks{pool="rack-0-ippool",state="free"} 0.0',
    # rack-1: 4 blocks, n1's and n2's exist
    'ippool_validator_pool_blocks{pool="rack-1-ippool",state="allocated"} 2.0',
    'ippool_validator_pool_blocks{pool="rack-1-ippool",state="free"} 2.0',
    # rack-1 IPv6: a /120 of /122 is 4 blocks, n1's and the deleted n-gone's exist
    'ippool_validator_pool_blocks{pool="rack-1-ipv6-ippool",state="allocated"} 2.0',
    'ippool_validator_pool_blocks{pool="rack-1-ipv6-ippool",state="free"} 2.0',
    'ippool_validator_pool_blocks{pool="spare-ippool",state="allocated"} 1.0',
    'ippool_validator_pool_blocks{pool="spare-ippool",state="free"} 3.0',
    # n0's tunnel, its 126 pods and n2's borrowed address: all 128
    'ippool_validator_pool_addresses{pool="rack-0-ippool",state="in_use"} 128.0',
    'ippool_validator_pool_addresses{pool="rack-0-ippool",state="reserved"} 0.0',
    'ippool_validator_pool_addresses{pool="rack-0-ippool",state="free"} 0.0',
    # n1: tunnel + 4 pods, n2: tunnel
    'ippool_validator_pool_addresses{pool="rack-1-ippool",state="in_use"} 6.0',
    'ippool_validator_pool_addresses{pool="rack-1-ippool",state="reserved"} 0.0',
    'ippool_validator_pool_addresses{pool="rack-1-ippool",state="free"} 250.0',
    # n1: v6 tunnel + the dual-stack pod, n-gone: its WireGuard v6 tunnel
    'ippool_validator_pool_addresses{pool="rack-1-ipv6-ippool",state="in_use"} 3.0',
    'ippool_validator_pool_addresses{pool="rack-1-ipv6-ippool",state="reserved"} 0.0',
    'ippool_validator_pool_addresses{pool="rack-1-ipv6-ippool",state="free"} 253.0',
    # the broken block: 64 less 63 listed free reads as 1 in use
    'ippool_validator_pool_addresses{pool="spare-ippool",state="in_use"} 1.0',
    'ippool_validator_pool_addresses{pool="spare-ippool",state="reserved"} 0.0',
    'ippool_validator_pool_addresses{pool="spare-ippool",state="free"} 255.0',
]
NODES = [
    # n0 holds 2 of 2 blocks: no room; n1, n2 hold 1 IPv4 block each, rack-1 has 2 free; n1 holds 1 IPv6
    # block, n2 none (room for 2, the IPv6 pool has 2 free). No pair for n-lonely, n-gone (deleted), or n2
    # with rack-0 (it borrowed an address there but holds no block of it).
    'ippool_validator_node_block_headroom{pool="rack-0-ippool",node="n0"} 0.0',
    'ippool_validator_node_block_headroom{pool="rack-1-ippool",node="n1"} 1.0',
    'ippool_validator_node_block_headroom{pool="rack-1-ippool",node="n2"} 1.0',
    'ippool_validator_node_block_headroom{pool="rack-1-ipv6-ippool",node="n1"} 1.0',
    'ippool_validator_node_block_headroom{pool="rack-1-ipv6-ippool",node="n2"} 2.0',
    # n0: no free address in its blocks, no block to claim (200 max pods less 126 would allow 74);
    # n1 v4: 59 free + 1 block of 64 = 123, capped at 110 - 4 pods = 106; n2 v4: 63 + 64, capped 110 - 1;
    # n1 v6: 62 + 64, capped at 110 - 1 (the dual-stack pod); n2 v6: 2 blocks of 64, capped at 110
    'ippool_validator_node_pod_headroom{pool="rack-0-ippool",node="n0"} 0.0',
    'ippool_validator_node_pod_headroom{pool="rack-1-ippool",node="n1"} 106.0',
    'ippool_validator_node_pod_headroom{pool="rack-1-ippool",node="n2"} 109.0',
    'ippool_validator_node_pod_headroom{pool="rack-1-ipv6-ippool",node="n1"} 109.0',
    'ippool_validator_node_pod_headroom{pool="rack-1-ipv6-ippool",node="n2"} 110.0',
    'ippool_validator_nodes{state="no_pool"} 1.0',  # n-lonely
    'ippool_validator_nodes{state="at_block_limit"} 1.0',  # n0
    'ippool_validator_nodes{state="in_deficit"} 1.0',  # n0: no more address, 74 short of its max pods
]
LEAKS = [
    'ippool_validator_ipam_leaks{class="leaked_address"} 2.0',  # 10.0.1.5 (2 h), fd00:10::40 (node gone)
    'ippool_validator_ipam_leaks{class="suspect_address"} 1.0',  # 10.0.1.6, 5 min old
    'ippool_validator_ipam_leaks{class="orphaned_handle"} 1.0',
    'ippool_validator_ipam_leaks{class="missing_handle"} 1.0',
    'ippool_validator_ipam_leaks{class="stale_affinity"} 1.0',  # n-gone's
    'ippool_validator_ipam_leaks{class="invalid_block"} 1.0',  # 10.9.0.0/26
    "ippool_validator_max_blocks_per_host 2.0",
]
PROCESS = [
    "ippool_validator_audit_last_success_timestamp_seconds 1.7645796e+09",
    "ippool_validator_audit_duration_seconds 0.25",
    "ippool_validator_audit_failures_total 3.0",
]


def test_series_are_exactly_the_contract(snap: Snapshot) -> None:
    text = exposition(snap, failures=3)
    assert parsed(samples(text)) == parsed(POOLS + NODES + LEAKS + PROCESS)
    assert snap.series_count == len(POOLS + NODES + LEAKS)


def test_every_family_says_its_type_and_help(snap: Snapshot) -> None:
    text = exposition(snap)
    names = {line.split("{")[0].split(" ")[0] for line in samples(text)}
    for name in names:
        kind = "counter" if name.endswith("_total") else "gauge"
        # prometheus_client names a counter's family with or without _total, by version
        family = next(f for f in (name, name.removesuffix("_total")) if f"# TYPE {f} " in text)
        assert f"# TYPE {family} {kind}" in text, name
        assert f"# HELP {family} " in text, name


def test_a_class_the_audit_did_not_judge_is_absent_not_zero(tmp_path: Path) -> None:
    state = cluster(tmp_path)
    state.pods, state.handles = None, None  # as if neither had been read
    result = audit(state, NOW, AuditPolicy(rule_levels={"block-invalid": "off"}))
    text = exposition(snapshot(state, result, 0.0, 0.0, off_rules=["block-invalid"]))
    leaks = [line for line in samples(text) if line.startswith("ippool_validator_ipam_leaks")]
    assert parsed(leaks) == parsed(['ippool_validator_ipam_leaks{class="stale_affinity"} 1.0'])


def test_windows_reserved_block_ends_count_as_reserved(tmp_path: Path) -> None:
    """A Windows node's block holds x.0-x.2 and the broadcast address under windows-reserved-ipam-handle
    (libcalico-go lib/ipam/ipam_block.go): reserved, not in use."""
    owners = {o: s.Owner("windows-reserved-ipam-handle", "win") for o in (0, 1, 2, 63)}
    owners[3] = s.pod_owner("apps", "w", "win", NOW)
    items = [s.ippool("win-ippool", "10.5.0.0/26", "all()", 26), s.block("10.5.0.0/26", owners, "win"),
             s.node("win", {}), s.pod("apps", "w", "win", ["10.5.0.3"])]
    s.write(tmp_path / "win.json", items)
    state = read_dumps([str(tmp_path)], NOW)
    text = exposition(snapshot(state, audit(state, NOW), 0.0, 0.0))
    addresses = [line for line in samples(text) if line.startswith("ippool_validator_pool_addresses")]
    assert parsed(addresses) == parsed([
        'ippool_validator_pool_addresses{pool="win-ippool",state="in_use"} 1.0',
        'ippool_validator_pool_addresses{pool="win-ippool",state="reserved"} 4.0',
        'ippool_validator_pool_addresses{pool="win-ippool",state="free"} 59.0',
    ])


def test_a_pool_that_no_longer_selects_the_node_gives_it_nothing_and_does_not_count(tmp_path: Path) -> None:
    """Node m holds a block of `old` (its nodeSelector no longer matches) with 3 pods, and none of `new`;
    maxBlocksPerHost is 1. libcalico-go's prepareAffinityBlocksForHost uses and counts only affine blocks
    in pools that select the host, so m may still claim a block of `new`, and gets nothing from `old`."""
    owners = {o: s.pod_owner("apps", f"p{o}", "m", NOW) for o in range(3)}
    items = [s.ippool("old-ippool", "10.7.0.0/24", 'rack == "gone"', 26),
             s.ippool("new-ippool", "10.8.0.0/24", "all()", 26), s.ipam_config(1),
             s.block("10.7.0.0/26", owners, "m"), s.node("m", {"rack": "1"}),
             *(s.pod("apps", f"p{o}", "m", [f"10.7.0.{o}"]) for o in range(3))]
    s.write(tmp_path / "stranded.json", items)
    state = read_dumps([str(tmp_path)], NOW)
    text = exposition(snapshot(state, audit(state, NOW), 0.0, 0.0))
    nodes = [line for line in samples(text) if line.startswith("ippool_validator_node")]
    assert parsed(nodes) == parsed([
        'ippool_validator_node_block_headroom{pool="new-ippool",node="m"} 1.0',
        'ippool_validator_node_block_headroom{pool="old-ippool",node="m"} 0.0',
        'ippool_validator_node_pod_headroom{pool="new-ippool",node="m"} 64.0',  # one /26, under 110 - 3
        'ippool_validator_node_pod_headroom{pool="old-ippool",node="m"} 0.0',
        'ippool_validator_nodes{state="no_pool"} 0.0',
        'ippool_validator_nodes{state="at_block_limit"} 0.0',
        'ippool_validator_nodes{state="in_deficit"} 1.0',  # 64 addresses within its limit, 107 pods to go
    ])
