"""Reading IPAM dumps (JSON and YAML, Lists and single objects, both Calico API groups) and counting
utilisation in blocks and addresses, over generated dumps with planted facts (tests/ipam_support.py)."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from pathlib import Path

import ipam_support as s
import pytest

from validator.audit.dumps import DumpPathError, read_dumps
from validator.audit.jsonstream import JSONStreamError, objects
from validator.audit.model import AuditPolicy
from validator.audit.utilisation import utilisation

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
def test_stream_reads_every_item_with_its_line_whatever_the_chunk(chunk: int) -> None:
    items = [{"kind": "IPAMBlock", "n": i, "text": "é" * (i % 5)} for i in range(50)]
    text = json.dumps(s.as_list(items), indent=4)
    got = list(objects(io.StringIO(text), chunk=chunk))
    assert [o["n"] for _, o in got] == list(range(50))
    lines = text.split("\n")
    assert all(lines[line - 1].strip() == "{" for line, _ in got)


def test_stream_reads_single_objects_and_concatenated_values() -> None:
    text = '{"kind": "IPAMConfig", "spec": {"maxBlocksPerHost": 0}}\n{"kind": "List", "items": []}\n[]'
    with pytest.raises(JSONStreamError) as err:
        list(objects(io.StringIO(text), chunk=5))
    assert err.value.line == 3  # the bare array: not a Kubernetes object
    assert list(objects(io.StringIO(text.rsplit("\n", 1)[0]))) == [
        (1, {"kind": "IPAMConfig", "spec": {"maxBlocksPerHost": 0}})
    ]


@pytest.mark.parametrize(
    "text, line",
    [
        ('{"items": [{"a": 1},\n{"b": }]}', 2),
        ('{"items": [\n\n{"a": 1}', 3),
        ('{"kind": "x"', 1),
        ("\n\n{]", 3),
    ],
)
def test_broken_json_is_a_located_error(text: str, line: int) -> None:
    with pytest.raises(JSONStreamError) as err:
        list(objects(io.StringIO(text), chunk=4))
    assert err.value.line == line


@pytest.mark.parametrize("api_version", [s.V1, s.V3])
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_planted_dump_reads_the_same_in_both_groups_and_formats(
    tmp_path: Path, api_version: str, fmt: str
) -> None:
    state = read_dumps([str(s.write_planted(tmp_path, NOW, api_version, fmt))], NOW)
    assert [p.name for p in state.pools] == ["rack-0-ippool", "rack-1-ippool", "rack-1-ipv6-ippool"]
    assert state.ipam is not None and state.ipam.max_blocks_per_host == 2
    assert len(state.blocks) == 6 and len(state.affinities) == 6 and state.nodes_known
    assert state.pods is not None and len(state.pods) == 129
    assert sum(1 for _ in state.iter_handles()) == 136
    assert not state.problems
    block = next(b for b in state.blocks if str(b.network) == "10.0.1.0/26")
    assert block.host == "n1" and block.in_use == 5 and not block.problems
    assert block.source.file.endswith(f"blocks.{fmt}") and block.source.line > 1


def test_handle_files_are_left_for_the_handle_checks(tmp_path: Path) -> None:
    s.write_planted(tmp_path, NOW)
    handles = tmp_path / "handles.json"
    state = read_dumps([str(tmp_path)], NOW)
    handles.write_text("{not json", encoding="utf-8")  # read only when the handles are asked for
    assert not state.problems
    assert list(state.iter_handles()) == []
    assert [p.source.file for p in state.problems] == [str(handles)]


def test_other_kinds_after_handles_are_reported_not_dropped(tmp_path: Path) -> None:
    s.write(tmp_path / "mixed.json", [s.handle("h1", {}), s.node("late", {})])
    state = read_dumps([str(tmp_path)], NOW)
    assert [h.handle_id for h in state.iter_handles()] == ["h1"]
    assert len(state.problems) == 1 and "Node" in state.problems[0].message


def test_mixed_file_keeps_its_handles(tmp_path: Path) -> None:
    s.write(tmp_path / "all.yaml", [s.node("n1", {}), s.handle("h1", {"10.0.0.0/26": 1})], "yaml")
    state = read_dumps([str(tmp_path)], NOW)
    assert [h.handle_id for h in state.iter_handles()] == ["h1"] and state.nodes_known


def test_soft_deleted_objects_are_not_read(tmp_path: Path) -> None:
    gone = s.block("10.0.0.0/26", {}, "n1")
    gone["spec"]["deleted"] = True
    stale = s.affinity("n1", "10.0.0.0/26")
    stale["spec"]["deleted"] = "true"  # a string in crd.projectcalico.org/v1
    s.write(tmp_path / "x.json", [gone, stale])
    state = read_dumps([str(tmp_path)], NOW)
    assert state.blocks == [] and state.affinities == []


def test_unusable_inputs_are_located_problems(tmp_path: Path) -> None:
    bad = s.block("10.0.0.0/26", {}, "n1")
    bad["spec"]["cidr"] = "10.0.0.1/26"
    s.write(tmp_path / "a.json", [bad])
    (tmp_path / "b.yaml").write_text("items: [\n", encoding="utf-8")
    (tmp_path / "c.json").write_bytes(b"\xff\xfe\x00")
    state = read_dumps([str(tmp_path)], NOW)
    assert sorted((Path(p.source.file).name, p.rule) for p in state.problems) == [
        ("a.json", "yaml-invalid"),
        ("b.yaml", "yaml-invalid"),
        ("c.json", "yaml-invalid"),
    ]
    with pytest.raises(DumpPathError):
        read_dumps([str(tmp_path / "missing")])


def test_calicoctl_typed_list_items_inherit_kind(tmp_path: Path) -> None:
    pool = s.ippool("p", "10.9.0.0/16", "all()", 26, s.V3)
    del pool["kind"], pool["apiVersion"]
    (tmp_path / "pools.json").write_text(
        json.dumps({"kind": "IPPoolList", "apiVersion": s.V3, "items": [pool]})
    )
    assert [p.name for p in read_dumps([str(tmp_path)], NOW).pools] == ["p"]


def test_block_inconsistencies_are_found_as_calicoctl_check_does(tmp_path: Path) -> None:
    b = s.block("10.0.0.0/30", {0: s.Owner("h", "n1")}, "n1")
    b["spec"]["unallocated"] = [0, 1, 2, 3, 3]
    b["spec"]["attributes"].append({"handle_id": "unused"})
    s.write(tmp_path / "b.json", [b])
    problems = read_dumps([str(tmp_path)], NOW).blocks[0].problems
    assert any("twice" in p for p in problems) and any("both allocated" in p for p in problems)
    assert any("referenced by no allocation" in p for p in problems) and any("add up" in p for p in problems)


def test_utilisation_counts_blocks_and_addresses_per_pool_and_node(tmp_path: Path) -> None:
    state = read_dumps([str(s.write_planted(tmp_path, NOW))], NOW)
    usage = utilisation(state, AuditPolicy())
    pools = {u.pool.name: u for u in usage.pools}
    rack0, rack1, v6 = pools["rack-0-ippool"], pools["rack-1-ippool"], pools["rack-1-ipv6-ippool"]
    assert (rack0.blocks_total, rack0.blocks_allocated, rack0.blocks_free) == (2, 2, 0)
    assert (rack0.addresses_total, rack0.in_use, rack0.free, rack0.borrowed) == (128, 128, 0, 1)
    assert (rack1.blocks_total, rack1.blocks_allocated, rack1.blocks_free, rack1.in_use) == (4, 2, 2, 6)
    assert (v6.blocks_total, v6.blocks_allocated, v6.addresses_total, v6.in_use) == (4, 2, 256, 3)
    nodes = {n.name: n for n in usage.nodes}
    n0 = nodes["n0"]
    assert (n0.blocks, n0.max_blocks, n0.addresses_in_use, n0.pod_headroom, n0.at_block_limit) == (
        2,
        2,
        127,
        0,
        True,
    )
    assert nodes["n2"].borrowed == 1 and nodes["n1"].pod_headroom == 110 - 4
    assert nodes["n-gone"].node is None and not usage.no_pool
    pairs = {(n.name, h.pool): h for n in usage.nodes for h in n.pool_headroom()}
    assert (
        pairs["n0", "rack-0-ippool"].blocks,
        pairs["n0", "rack-0-ippool"].block_headroom,
        pairs["n0", "rack-0-ippool"].pod_headroom,
    ) == (2, 0, 0)
    n2 = pairs["n2", "rack-1-ippool"]
    assert (n2.selects, n2.blocks, n2.block_headroom, n2.pod_headroom) == (True, 1, 1, 109)  # 63 free + 64
    assert ("n2", "rack-0-ippool") not in pairs  # it borrowed an address there, but holds no block of it
    assert (
        not pairs["n-gone", "rack-1-ipv6-ippool"].selects
        and pairs["n-gone", "rack-1-ipv6-ippool"].blocks == 1
    )
    assert len(pairs) == 6  # n0: rack-0; n1: rack-1 and IPv6; n2: rack-1 and IPv6; n-gone: IPv6


def test_reservations_blocks_in_no_pool_and_larger_blocks(tmp_path: Path) -> None:
    reservation = {
        "apiVersion": s.V1,
        "kind": "IPReservation",
        "metadata": {"name": "r"},
        "spec": {"reservedCIDRs": ["10.0.1.0/28", "10.0.1.8/29", "192.0.2.0/24"]},
    }
    owners = {1: s.Owner("h1", "n1"), 20: s.Owner("h2", "n1")}
    items = [
        s.ippool("p", "10.0.0.0/22", "all()", 26),
        reservation,
        s.block("10.0.1.0/26", owners, "n1"),
        s.block("10.0.2.0/25", {}, "n1"),
        s.block("172.16.0.0/26", {0: s.Owner("h3", "n1")}, "n1"),
    ]
    s.write(tmp_path / "d.json", items)
    usage = utilisation(read_dumps([str(tmp_path)], NOW), AuditPolicy())
    pool = usage.pools[0]
    assert (pool.blocks_total, pool.blocks_allocated, pool.blocks_free) == (16, 3, 13)  # a /25 covers two
    assert (pool.reserved, pool.in_use) == (16, 2)
    assert pool.free == 1024 - 2 - 16 + 1  # 10.0.1.1 is in use and reserved: counted once
    assert [str(b.network) for b in usage.no_pool] == ["172.16.0.0/26"]
