"""A node's block limit and headroom, the same through `audit --format json` and the exporter's series.

Both read one implementation (validator/audit/utilisation.py), which follows libcalico-go
`lib/ipam/ipam.go`: `prepareAffinityBlocksForHost` keeps only the host's affine blocks inside the pools
that select it (enabled, Automatic, nodeSelector matching, allowing Workload) and `autoAssign` counts
`numBlocksOwned` over them. The inputs are the class where a definition counting all of a node's blocks
differs: a node holding a block of a pool that no longer selects it (by selector, by being disabled, by
allowing only tunnels), a node whose blocks in another pool do not count, and a node at its limit only
counting its selecting pools. Every expected number is worked out by hand in the case's comment.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import ipam_support as s
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from test_exporter_series import exposition

from validator.audit.core import audit
from validator.audit.dumps import read_dumps
from validator.cli import main
from validator.exporter.series import snapshot

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
NOW_TEXT = "2026-12-01T09:00:00Z"

Pairs = dict[tuple[str, str], tuple[int, int]]  # (pool, node) -> (block headroom, pod headroom)
States = dict[str, int]  # no_pool, at_block_limit, in_deficit


def pods_in(cidr: str, ordinals: range, node: str, prefix: str) -> tuple[dict[int, s.Owner], list[Any]]:
    """Block owners for pods at these ordinals of `cidr`, and the Pod objects that hold them."""
    base = cidr.rsplit(".", 1)[0]
    first = int(cidr.rsplit(".", 1)[1].split("/")[0])
    owners = {o: s.pod_owner("apps", f"{prefix}{o}", node, NOW) for o in ordinals}
    pods = [s.pod("apps", f"{prefix}{o}", node, [f"{base}.{first + o}"]) for o in ordinals]
    return owners, pods


def stranded(how: str) -> list[Any]:
    """m (rack 1) holds 10.7.0.0/26 of `old` with 3 pods; `old` no longer serves it (`how`); `new` (all())
    has 4 free /26 blocks; maxBlocksPerHost 1."""
    old = s.ippool("old-ippool", "10.7.0.0/24", 'rack == "gone"' if how == "selector" else "all()", 26)
    if how == "disabled":
        old["spec"]["disabled"] = True
    if how == "tunnel-only":
        old["spec"]["allowedUses"] = ["Tunnel"]
    owners, pods = pods_in("10.7.0.0/26", range(3), "m", "p")
    return [old, s.ippool("new-ippool", "10.8.0.0/24", "all()", 26), s.ipam_config(1),
            s.block("10.7.0.0/26", owners, "m"), s.node("m", {"rack": "1"}), *pods]


def other_pool_does_not_count() -> list[Any]:
    """m (rack 1), maxBlocksPerHost 2: 1 block of `a` (selects it) with 2 pods, 2 blocks of `b` (rack 0
    only), one with 1 pod. Counted: 1 block, 62 free; it may claim min(2 - 1, 3 free in a) = 1 block."""
    a_owners, a_pods = pods_in("10.8.0.0/26", range(2), "m", "a")
    b_owners, b_pods = pods_in("10.7.0.0/26", range(1), "m", "b")
    return [s.ippool("a-ippool", "10.8.0.0/24", "all()", 26),
            s.ippool("b-ippool", "10.7.0.0/24", 'rack == "0"', 26), s.ipam_config(2),
            s.block("10.8.0.0/26", a_owners, "m"), s.block("10.7.0.0/26", b_owners, "m"),
            s.block("10.7.0.64/26", {}, "m"), s.node("m", {"rack": "1"}), *a_pods, *b_pods]


def limit_only_in_selecting_pools() -> list[Any]:
    """m (rack 1), maxBlocksPerHost 2: 2 /28 blocks of `a` (selects it), 16 and 4 pods (12 free), and a
    /26 of `b` (rack 0 only) with 1 pod (63 free, not its to use). It holds 3 blocks but is at its limit
    of 2 by the selecting pool alone, and 12 free addresses are all it has left."""
    full, full_pods = pods_in("10.8.0.0/28", range(16), "m", "f")
    part, part_pods = pods_in("10.8.0.16/28", range(4), "m", "q")
    other, other_pods = pods_in("10.7.0.0/26", range(1), "m", "b")
    return [s.ippool("a-ippool", "10.8.0.0/24", "all()", 28),
            s.ippool("b-ippool", "10.7.0.0/24", 'rack == "0"', 26), s.ipam_config(2),
            s.block("10.8.0.0/28", full, "m"), s.block("10.8.0.16/28", part, "m"),
            s.block("10.7.0.0/26", other, "m"), s.node("m", {"rack": "1"}),
            *full_pods, *part_pods, *other_pods]


STRANDED = (
    # new: room for 1 block of 64 (the old block does not count), under 110 - 3 pods; old gives nothing.
    # Not at its limit; in deficit: 64 addresses within its limit, 107 pods to go.
    {("new-ippool", "m"): (1, 64), ("old-ippool", "m"): (0, 0)},
    {"no_pool": 0, "at_block_limit": 0, "in_deficit": 1},
    ["IPv4"],
)
CASES = {
    "stranded-by-selector": (stranded("selector"), *STRANDED),
    "stranded-by-disabled": (stranded("disabled"), *STRANDED),
    "stranded-by-tunnel-only": (stranded("tunnel-only"), *STRANDED),
    "other-pool-does-not-count": (
        other_pool_does_not_count(),
        # a: 62 free + 1 claimable x 64 = 126, capped at 110 - 3 pods; b selects not, gives nothing.
        # Counted 1 of 2: not at its limit; 126 >= 107: not in deficit.
        {("a-ippool", "m"): (1, 107), ("b-ippool", "m"): (0, 0)},
        {"no_pool": 0, "at_block_limit": 0, "in_deficit": 0},
        [],
    ),
    "limit-only-in-selecting-pools": (
        limit_only_in_selecting_pools(),
        # a: no room (2 of 2), 12 free, under 110 - 21 pods; b nothing. At its limit, 12 < 89: in deficit.
        {("a-ippool", "m"): (0, 12), ("b-ippool", "m"): (0, 0)},
        {"no_pool": 0, "at_block_limit": 1, "in_deficit": 1},
        ["IPv4"],
    ),
}


def through_audit_json(folder: Path) -> tuple[Pairs, States, list[str], dict[str, Any]]:
    result = CliRunner().invoke(main, ["audit", str(folder), "--format", "json", "--now", NOW_TEXT],
                                catch_exceptions=False)
    assert result.exit_code in (0, 1), result.stderr
    doc = json.loads(result.stdout)
    pairs = {(p["name"], n["name"]): (p["blockHeadroom"], p["podHeadroom"])
             for n in doc["utilisation"]["nodes"] for p in n["pools"]}
    by_state = doc["summary"]["nodesByState"]
    states = {"no_pool": by_state["noPool"], "at_block_limit": by_state["atBlockLimit"],
              "in_deficit": by_state["inDeficit"]}
    short = sorted(f["message"].split(" blocks (maxBlocksPerHost)")[0].split()[-1]
                   for f in doc["findings"] if f["rule"] == "node-headroom")
    node = next(n for n in doc["utilisation"]["nodes"] if n["name"] == "m")
    return pairs, states, short, node


def through_series(folder: Path) -> tuple[Pairs, States]:
    state = read_dumps([str(folder)], NOW)
    text = exposition(snapshot(state, audit(state, NOW), 0.0, 0.0))
    found: dict[str, dict[tuple[str, ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    blocks, pods = found["ippool_validator_node_block_headroom"], found["ippool_validator_node_pod_headroom"]
    pairs = {(dict(k)["pool"], dict(k)["node"]): (int(v), int(pods[k])) for k, v in blocks.items()}
    states = {dict(k)["state"]: int(v) for k, v in found["ippool_validator_nodes"].items()}
    return pairs, states


@pytest.mark.parametrize("case", sorted(CASES))
def test_audit_json_and_exporter_series_give_the_same_calico_exact_numbers(tmp_path: Path, case: str) -> None:
    items, pairs, states, short = CASES[case]
    s.write(tmp_path / "cluster.json", items)
    audit_pairs, audit_states, audit_short, _ = through_audit_json(tmp_path)
    series_pairs, series_states = through_series(tmp_path)
    assert audit_pairs == series_pairs == pairs
    assert audit_states == series_states == states
    assert audit_short == short  # node-headroom: one finding per family short of max pods


def test_the_families_count_only_blocks_of_selecting_pools(tmp_path: Path) -> None:
    """The JSON's family entry counts what the limit counts; the node's `blocks` is all it holds."""
    s.write(tmp_path / "cluster.json", limit_only_in_selecting_pools())
    _, _, _, node = through_audit_json(tmp_path)
    (v4,) = node["families"]
    counts = (node["blocks"], v4["blocks"], v4["freeInBlocks"], v4["pods"], v4["capacity"])
    assert counts == (3, 2, 12, 21, 12)
