"""A DeltaView must answer exactly as a fresh ClusterView over the changed cluster would.

Random small clusters (pools of both families and API groups, selectors of every operator, nodes with and
without pod capacity, reservations, exemption annotations) and random changes (a pool put in place of
another, added, dropped; several pools at once as an Installation writes them; a node relabelled or added;
a reservation put or dropped). For each, every view question and every rule's findings are compared.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from validator.analysis import ClusterView
from validator.config import Config
from validator.engine import run
from validator.model import (
    IGNORE_ANNOTATION,
    OPERATOR,
    V1,
    V3,
    Cluster,
    Finding,
    Node,
    Pool,
    Reservation,
    Resource,
    Source,
)
from validator.rules.base import Focus
from validator.webhook.delta import Change, DeltaView
from validator.webhook.snapshot import Snapshot

SELECTORS = ["", "all()", 'rack == "1"', 'rack == "2"', 'rack in {"1", "3"}', 'zone != "a"', "has(role)",
             "!has(role)", 'rack == "9"', 'zone starts with "b"', 'role contains "dg"', "broken ((",
             'rack == "1" && zone == "a"', 'rack not in {"2"} || has(role)', "global()"]
V4_CIDRS = ["10.0.0.0/22", "10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/26", "10.0.3.0/24", "10.0.0.0/16",
            "10.0.2.0/28", "10.1.0.0/24", "10.0.1.0/25"]
V6_CIDRS = ["fd00::/116", "fd00::/120", "fd00::100/120", "fd00:1::/122"]


def random_pool(rng: random.Random, name: str, line: int, origin: str = "") -> Pool:
    spec: dict[str, Any] = {"cidr": rng.choice(V4_CIDRS if rng.random() < 0.8 else V6_CIDRS)}
    if rng.random() < 0.9:
        spec["nodeSelector"] = rng.choice(SELECTORS)
    if rng.random() < 0.2:
        spec["disabled"] = True
    if rng.random() < 0.25:
        spec["allowedUses"] = rng.choice([["Workload"], ["Tunnel"], ["LoadBalancer"], ["Workload", "Tunnel"]])
    if rng.random() < 0.3:
        spec["blockSize"] = rng.choice([24, 26, 28, 30, 120])
    annotations = {IGNORE_ANNOTATION: rng.choice(["pool-overlap", "all", "node-unselected"])} \
        if rng.random() < 0.1 else {}
    api = OPERATOR if origin == "operator" else rng.choice([V3, V1])
    return Pool(Resource(api, "IPPool", name), Source(rng.choice(["a.yaml", "b.yaml"]), line), spec,
                "operator" if origin == "operator" else ("v3" if api == V3 else "v1"), annotations)


def random_labels(rng: random.Random, name: str) -> dict[str, str]:
    labels = {"kubernetes.io/hostname": name}
    if rng.random() < 0.85:
        labels["rack"] = rng.choice("1234")
    if rng.random() < 0.7:
        labels["zone"] = rng.choice(["a", "b", "bb"])
    if rng.random() < 0.3:
        labels["role"] = rng.choice(["edge", "core"])
    return labels


def random_node(rng: random.Random, name: str, line: int) -> Node:
    annotations = {IGNORE_ANNOTATION: "node-unselected"} if rng.random() < 0.1 else {}
    return Node(Resource("v1", "Node", name), Source("nodes.yaml", line), random_labels(rng, name),
                annotations, rng.choice([None, None, 110, 250]))


def random_reservation(rng: random.Random, name: str, line: int) -> Reservation:
    cidrs = tuple(rng.sample(V4_CIDRS + V6_CIDRS + ["10.0.0.0/23", "10.0.2.5"], rng.randint(1, 3)))
    return Reservation(Resource(rng.choice([V3, V1]), "IPReservation", name), Source("r.yaml", line), cidrs)


def random_cluster(rng: random.Random) -> Cluster:
    pools = [random_pool(rng, f"pool-{rng.randint(0, 9)}", i) for i in range(rng.randint(0, 8))]
    pools += [random_pool(rng, f"op-{i}", 100 + i, "operator") for i in range(rng.randint(0, 2))]
    nodes = [random_node(rng, f"node-{i}", i) for i in range(rng.randint(0, 9))]
    reservations = [random_reservation(rng, f"res-{i}", i) for i in range(rng.randint(0, 3))]
    known = bool(nodes) or rng.random() < 0.5
    return Cluster(pools=pools, nodes=nodes, reservations=reservations, nodes_known=known)


def random_change(rng: random.Random, cluster: Cluster) -> Change:
    kind = rng.choice(["pool", "pool", "drop-pool", "installation", "node", "node", "reservation",
                       "drop-reservation"])
    names = [p.name for p in cluster.pools]
    if kind == "pool":
        name = rng.choice(names) if names and rng.random() < 0.6 else f"new-{rng.randint(0, 3)}"
        return Change(put_pools=(random_pool(rng, name, 50),))
    if kind == "drop-pool" and names:
        victim = rng.choice(cluster.pools)
        api = victim.resource.api_version if victim.origin == "operator" else rng.choice([V1, V3])
        return Change(drop_pools=(Resource(api, "IPPool", victim.name),))
    if kind == "installation":
        puts = tuple(random_pool(rng, rng.choice(["op-0", "op-1", "op-2", "pool-1"]), 60 + i, "operator")
                     for i in range(rng.randint(1, 3)))
        drops = tuple(Resource(OPERATOR, "IPPool", n) for n in ("op-0", "op-1") if rng.random() < 0.5)
        return Change(put_pools=puts, drop_pools=drops)
    if kind == "node":
        names = [n.name for n in cluster.nodes]
        name = rng.choice(names) if names and rng.random() < 0.7 else "node-new"
        return Change(put_node=random_node(rng, name, 70))
    if kind == "reservation":
        name = rng.choice(["res-0", "res-1", "res-9"])
        return Change(put_reservations=(random_reservation(rng, name, 80),))
    if kind == "drop-reservation":
        return Change(drop_reservations=(Resource(rng.choice([V1, V3]), "IPReservation", "res-0"),))
    return Change()


def finding_tuples(findings: list[Finding]) -> list[tuple[Any, ...]]:
    return [(f.rule, f.severity, f.message, f.resource, f.source, f.hint, f.related, f.subject)
            for f in findings]


def assert_same_answers(delta: DeltaView, fresh: ClusterView, rng: random.Random) -> None:
    cluster = delta.cluster
    assert delta.node_index.all_bits == fresh.node_index.all_bits
    assert delta.families_in_use() == fresh.families_in_use()
    for pool in cluster.pools:
        assert delta.selected_bits(pool) == fresh.selected_bits(pool), pool
        assert {id(p) for p in delta.overlapping(pool)} == {id(p) for p in fresh.overlapping(pool)}, pool
        if pool.network is not None:
            assert set(map(id, delta.reservation_index.overlapping(pool.network))) == \
                set(map(id, fresh.reservation_index.overlapping(pool.network)))
    assert {v: list(map(id, ps)) for v, ps in delta.workload_pools.items()} == \
        {v: list(map(id, ps)) for v, ps in fresh.workload_pools.items() if ps}
    for version in (4, 6):
        assert delta.unserved_bits(version) == fresh.unserved_bits(version)
        assert list(map(id, delta.fallback_pools(version))) == list(map(id, fresh.fallback_pools(version)))
    for node in cluster.nodes:
        assert delta.node_position(node) == fresh.node_position(node)
    for key in ("rack", "zone", "role", "kubernetes.io/hostname"):
        assert sorted(delta.node_index.values(key)) == sorted(fresh.node_index.values(key))
    everyone = delta.node_index.all_bits
    for _ in range(3):
        bits = rng.getrandbits(max(everyone.bit_length(), 1)) & everyone
        assert delta.pods_demand(bits, 110) == fresh.pods_demand(bits, 110)
    resources = [p.resource for p in cluster.pools] + [n.resource for n in cluster.nodes]
    resources += [Resource(V3, "IPPool", "pool-1"), Resource("v1", "Node", "node-new")]
    chosen = set(rng.sample(resources, min(len(resources), 4)))
    assert list(map(id, delta.pools_in(chosen))) == list(map(id, fresh.pools_in(chosen)))
    assert list(map(id, delta.nodes_in(chosen))) == list(map(id, fresh.nodes_in(chosen)))
    assert delta.exemptions() == fresh.exemptions()
    assert delta.pods_groups(110) == fresh.pods_groups(110)
    for name in {p.name for p in cluster.pools} | {"pool-1", "new-0"}:
        assert list(map(id, delta.pools_named(name))) == list(map(id, fresh.pools_named(name)))
    for position in range(len(cluster.nodes)):
        assert list(map(id, delta.pools_selecting_node(position))) == \
            list(map(id, fresh.pools_selecting_node(position)))
    for version in (4, 6):
        def enabled(p: Pool, version: int = version) -> bool:
            return p.serves_workloads and p.version == version

        key, by_name = f"test-enabled-{version}", (lambda p: p.name)
        chosen = delta.pools_where(key, enabled, by_name)
        assert list(map(id, chosen)) == list(map(id, fresh.pools_where(key, enabled, by_name)))
        scope = rng.getrandbits(max(everyone.bit_length(), 1)) & everyone
        assert sorted((bits, list(map(id, ps))) for bits, ps in delta.pool_sets(chosen, scope)) == \
            sorted((bits, list(map(id, ps))) for bits, ps in fresh.pool_sets(chosen, scope))


def fresh_view(delta: DeltaView, snapshot: Snapshot) -> ClusterView:
    """A view built from scratch over the changed cluster, told (as a DeltaView knows) which families
    were in use before the change."""
    return ClusterView(delta.cluster, snapshot.view.families_in_use())


@pytest.mark.parametrize("seed", range(250))
def test_delta_view_answers_as_a_fresh_view(seed: int) -> None:
    rng = random.Random(seed)
    snapshot = Snapshot(random_cluster(rng)).warm()
    change = random_change(rng, snapshot.cluster)
    delta = DeltaView(snapshot, change)
    fresh = fresh_view(delta, snapshot)
    assert_same_answers(delta, fresh, rng)
    config = Config()
    assert finding_tuples(run(delta.cluster, config, None, delta).findings) == \
        finding_tuples(run(delta.cluster, config, None, fresh).findings)
    some = rng.sample(delta.cluster.pools, min(2, len(delta.cluster.pools)))
    focus = Focus(pools=frozenset(p.resource for p in some),
                  nodes=frozenset(n.resource for n in delta.cluster.nodes[:3]))
    assert finding_tuples(run(delta.cluster, config, focus, delta).findings) == \
        finding_tuples(run(delta.cluster, config, focus, fresh_view(delta, snapshot)).findings)


def test_the_snapshot_is_not_changed_by_a_delta() -> None:
    rng = random.Random(7)
    cluster = random_cluster(rng)
    snapshot = Snapshot(cluster).warm()
    before = finding_tuples(run(cluster, Config(), None, snapshot.view).findings)
    for _ in range(20):
        delta = DeltaView(snapshot, random_change(rng, cluster))
        run(delta.cluster, Config(), None, delta)
    assert finding_tuples(run(cluster, Config(), None, snapshot.view).findings) == before
    assert finding_tuples(run(cluster, Config(), None, ClusterView(cluster)).findings) == before


@pytest.mark.parametrize("seed", range(60))
def test_pool_sets_group_nodes_by_exactly_the_pools_that_select_them(seed: int) -> None:
    rng = random.Random(seed)
    view = ClusterView(random_cluster(rng))
    pools = rng.sample(view.cluster.pools, len(view.cluster.pools))
    everyone = view.node_index.all_bits
    groups = view.pool_sets(pools, everyone)
    covered = 0
    for bits, chosen in groups:
        assert bits and not bits & covered
        covered |= bits
        for position in view.node_index.members(bits):
            given = set(map(id, pools))
            expected = [id(p) for p in view.cluster.pools
                        if id(p) in given and view.selected_bits(p) >> position & 1]
            assert expected == list(map(id, chosen))
    assert covered == everyone
