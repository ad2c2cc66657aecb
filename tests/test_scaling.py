"""Work that must grow linearly with the input, asserted by counting operations (never by timing):
selector parses per pool, node-set scans per rule. bench/bench_rules.py shows the times."""

from __future__ import annotations

import pytest

import validator.selector as selector_module
from validator.engine import run
from validator.model import Cluster, Node, Pool, Resource, Source
from validator.nodeindex import NodeIndex

V3 = "projectcalico.org/v3"


def rack_cluster(pools: int, nodes: int, fallbacks: int = 1) -> Cluster:
    found = Cluster(nodes_known=nodes > 0)
    for i in range(fallbacks):
        found.pools.append(Pool(Resource(V3, "IPPool", f"all-{i}"), Source("p.yaml", 1 + i),
                                {"cidr": f"100.{64 + i // 256}.{i % 256}.0/24", "nodeSelector": "all()"}))
    for i in range(pools):
        found.pools.append(Pool(Resource(V3, "IPPool", f"rack-{i}"), Source("p.yaml", 1000 + i),
                                {"cidr": f"10.{i // 256}.{i % 256}.0/24", "nodeSelector": f'rack == "r{i}"'}))
    for i in range(nodes):
        found.nodes.append(Node(Resource("v1", "Node", f"n{i}"), Source("n.yaml", 1 + i),
                                {"rack": f"r{i // 2}", "kubernetes.io/hostname": f"n{i}"}))
    return found


def test_each_distinct_selector_is_parsed_a_bounded_number_of_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """More distinct selectors than the text cache holds: still a few parses per pool for the whole
    run, not one per rule that asks."""
    parsed: list[str] = []
    original = selector_module._Parser.parse

    def counting(self: selector_module._Parser) -> object:
        parsed.append(self.text)
        return original(self)

    monkeypatch.setattr(selector_module._Parser, "parse", counting)
    selector_module._parse_cached.cache_clear()
    pools = 5000  # more than the 4,096 texts parse_selector remembers
    run(rack_cluster(pools, 2 * pools))
    assert len(parsed) <= 2 * (pools + 1)


@pytest.mark.parametrize("positions", [[], [0], [7, 8, 9], [99_999], [5, 40_000, 99_999],
                                       list(range(0, 100_000, 3)), list(range(63)), list(range(64))])
def test_members_are_the_set_bits_ascending(positions: list[int]) -> None:
    bits = 0
    for p in positions:
        bits |= 1 << p
    assert NodeIndex.members(bits) == positions
