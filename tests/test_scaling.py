"""Work that must grow linearly with the input, asserted by counting operations (never by timing):
selector parses per pool, node-set scans per rule. bench/bench_rules.py shows the times."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import validator.selector as selector_module
from validator.engine import run
from validator.model import Cluster, Node, Pool, Resource, Source
from validator.nodeindex import NodeIndex
from validator.rules.node_block_limit import FallbackOrder, node_capacity

V3 = "projectcalico.org/v3"


def rack_cluster(pools: int, nodes: int, fallbacks: int = 1, fallback_block: int = 26) -> Cluster:
    found = Cluster(nodes_known=nodes > 0)
    for i in range(fallbacks):
        found.pools.append(Pool(Resource(V3, "IPPool", f"all-{i}"), Source("p.yaml", 1 + i),
                                {"cidr": f"100.{64 + i // 256}.{i % 256}.0/24", "nodeSelector": "all()",
                                 "blockSize": fallback_block}))
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


def _sized_pool(name: str, blocks_log2: int, block_size: int, index: int) -> Pool:
    prefix = block_size - blocks_log2
    cidr = f"10.{index}.0.0/{prefix}"
    return Pool(Resource(V3, "IPPool", name), Source("p.yaml", 1 + index),
                {"cidr": cidr, "blockSize": block_size, "nodeSelector": "all()"})


pool_shapes = st.tuples(st.sampled_from("abcd"), st.integers(0, 3), st.integers(24, 30))


@settings(max_examples=300, deadline=None)
@given(fallback=st.lists(pool_shapes, max_size=6), pool=pool_shapes, limit=st.integers(1, 30),
       is_fallback=st.booleans())
def test_fallback_prefix_sums_agree_with_sorting_and_walking(fallback: list[tuple[str, int, int]],
                                                            pool: tuple[str, int, int], limit: int,
                                                            is_fallback: bool) -> None:
    """node-block-limit without nodes: the prefix-sum answer equals sorting the all() pools with the pool
    and walking them in name order (the quadratic way it was done)."""
    pools = sorted((_sized_pool(n, b, s, i) for i, (n, b, s) in enumerate(fallback)), key=lambda p: p.name)
    subject = pools[len(pools) // 2] if is_fallback and pools else _sized_pool(*pool, 200)
    order = sorted({id(p): p for p in (*pools, subject)}.values(), key=lambda p: p.name)
    walked = node_capacity(order, limit)
    expected = walked if walked is not None and any(p is subject for p, _ in walked[1]) else None
    summed = FallbackOrder(pools)
    capacity = summed.capacity_with(subject, limit)
    if expected is None:
        assert capacity is None
    else:
        assert capacity == expected[0]
        assert summed.taken_with(subject, limit) == expected[1]


def test_node_block_limit_without_nodes_walks_for_findings_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many all() pools, no nodes: node_capacity (the walk over pools) runs once per finding, not once
    per pool over every all() pool."""
    import validator.rules.node_block_limit as rule

    walks: list[int] = []
    original = rule.node_capacity

    def counting(pools: list[Pool], limit: int) -> object:
        walks.append(len(pools))
        return original(pools, limit)

    monkeypatch.setattr(rule, "node_capacity", counting)
    cluster = rack_cluster(3000, 0, fallbacks=300, fallback_block=32)  # 20 blocks of 1 address: 20 pods
    found = [f for f in run(cluster).findings if f.rule == "node-block-limit"]
    assert [f.resource.name for f in found if f.resource] == ["all-0"]  # the one pool IPAM reaches first
    assert len(walks) == len(found) and sum(walks) <= 21


def test_nested_pools_give_one_overlap_finding_per_nested_pool() -> None:
    """The overlap flood: a /16 holding 16 /20s holding 256 /24s is 528 overlapping pairs, but one finding
    per nested pool (272), each naming (as related) every pool that contains it."""
    nets = ["10.0.0.0/16", *(f"10.0.{16 * i}.0/20" for i in range(16)),
            *(f"10.0.{i}.0/24" for i in range(256))]
    cluster = Cluster(pools=[Pool(Resource(V3, "IPPool", f"p{i}"), Source("p.yaml", 1 + 4 * i), {"cidr": net})
                             for i, net in enumerate(nets)])
    found = [f for f in run(cluster).findings if f.rule == "pool-overlap"]
    assert len(found) == 272
    assert sum(len(f.related) for f in found) == 16 + 2 * 256
    assert all(len(f.message) < 400 for f in found)


POOL_SHAPES = st.tuples(st.sampled_from(["all()", 'rack == "r0"', 'rack == "r1"', 'rack in {"r0", "r2"}']),
                        st.sampled_from([None, 24, 26, 28, 30, 31, 32]),  # blockSize
                        st.sampled_from([16, 22, 24, 26, 28]))  # prefix length of the pool


@given(st.lists(POOL_SHAPES, min_size=1, max_size=6),
       st.lists(st.tuples(st.sampled_from(["r0", "r1", "r2", "r3"]),
                          st.sampled_from([None, 8, 20, 110, 250])), max_size=8),
       st.sampled_from([None, 1, 4, 20, 64]), st.sampled_from([20, 110, 300]), st.booleans())
@settings(max_examples=250, deadline=None)
def test_node_block_limit_skips_grouping_only_when_no_node_can_be_short(
        shapes: list[tuple[str, int | None, int]], racks: list[tuple[str, int | None]], limit: int | None,
        max_pods: int, known: bool) -> None:
    """`_never_short` (limit x the smallest candidate block >= the most pods any node runs) never hides a
    finding: with it and without it, node-block-limit finds the same, over pools of every block size,
    nodes that report their own pods or not, any block limit, with and without known nodes."""
    import validator.rules.node_block_limit as rule
    from validator.config import Config
    from validator.model import IPAMSettings

    cluster = Cluster(nodes_known=known or bool(racks))
    for i, (selector, block, prefix) in enumerate(shapes):
        spec: dict[str, object] = {"cidr": f"10.{i}.0.0/{prefix}", "nodeSelector": selector}
        if block is not None:
            spec["blockSize"] = block
        cluster.pools.append(Pool(Resource(V3, "IPPool", f"p{i}"), Source("p.yaml", 1 + i), spec))
    for i, (rack, pods) in enumerate(racks):
        cluster.nodes.append(Node(Resource("v1", "Node", f"n{i}"), Source("n.yaml", 1 + i),
                                  {"rack": rack}, {}, pods))
    if limit is not None:
        cluster.ipam.append(IPAMSettings(Resource(V3, "IPAMConfiguration", "default"), Source("i.yaml", 1),
                                         limit, spec={"maxBlocksPerHost": limit}))
    config = Config(max_pods=max_pods)

    def found() -> list[tuple[object, ...]]:
        findings = run(cluster, config).findings
        return [(f.resource, f.message) for f in findings if f.rule == "node-block-limit"]

    shortcut = found()
    original = rule._never_short
    try:
        rule._never_short = lambda ctx, version, limit: False  # type: ignore[assignment]
        assert found() == shortcut
    finally:
        rule._never_short = original


@pytest.mark.parametrize(("block", "skipped"), [(26, True), (32, False)])
def test_the_node_grouping_is_skipped_for_default_blocks_only(monkeypatch: pytest.MonkeyPatch, block: int,
                                                               skipped: bool) -> None:
    """20 blocks of /26 hold 1,280 addresses, more than any node's pods: no node is grouped. 20 blocks of /32
    hold 20: every node is, and each is reported."""
    import validator.rules.node_block_limit as rule

    grouped: list[int] = []
    original = rule._nodes_short

    def counting(ctx: object, pools: object, *rest: object) -> object:
        grouped.append(1)
        return original(ctx, pools, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(rule, "_nodes_short", counting)
    cluster = rack_cluster(4, 8, fallback_block=block)
    found = [f for f in run(cluster).findings if f.rule == "node-block-limit"]
    assert (not grouped) == skipped
    assert (not found) == skipped
