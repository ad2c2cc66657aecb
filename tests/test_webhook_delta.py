"""A DeltaView must answer exactly as a fresh ClusterView over the changed cluster would.

Random small clusters (pools of both families and API groups, selectors of every operator, nodes with and
without pod capacity, reservations, exemption annotations) and random changes (a pool put in place of
another, added, dropped; several pools at once as an Installation writes them; a node relabelled or added;
a reservation put or dropped). For each, every view question and every rule's findings are compared.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
from validator.rules import REGISTRY
from validator.rules.base import Focus
from validator.view import View
from validator.webhook.admission import AdmissionRequest
from validator.webhook.changes import EditedList, PatchedList, patched
from validator.webhook.decision import object_findings, only, rules_reading
from validator.webhook.delta import Change, DeltaView
from validator.webhook.plan import NodeResources, make_plan
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


KEYS = ("rack", "zone", "role", "kubernetes.io/hostname")


def ids(objects: Any) -> list[int]:
    return list(map(id, objects))


@dataclass
class Probe:
    """The arguments the questions are asked with, drawn once and put to both views."""

    bits: int
    scope: int
    resources: set[Resource]


def probe(delta: DeltaView, rng: random.Random) -> Probe:
    cluster, everyone = delta.cluster, delta.node_index.all_bits
    resources = [p.resource for p in cluster.pools] + [n.resource for n in cluster.nodes]
    resources += [Resource(V3, "IPPool", "pool-1"), Resource("v1", "Node", "node-new")]
    return Probe(rng.getrandbits(max(everyone.bit_length(), 1)) & everyone,
                 rng.getrandbits(max(everyone.bit_length(), 1)) & everyone,
                 set(rng.sample(resources, min(len(resources), 4))))


def enabled_of(version: int) -> Any:
    def enabled(p: Pool) -> bool:
        return p.serves_workloads and p.version == version
    return enabled


def by_name(p: Pool) -> str:
    return p.name


def block_addresses(pool: Pool) -> int:
    return pool.block_addresses


def where(view: View, version: int) -> Sequence[Pool]:
    return view.pools_where(f"test-enabled-{version}", enabled_of(version), by_name)


# One asker per member of the View protocol: each puts its question to a view in every way the probe allows.
ASK: dict[str, Callable[[View, Probe], Any]] = {
    "cluster": lambda v, p: (ids(v.cluster.pools), ids(v.cluster.nodes), ids(v.cluster.reservations),
                             v.cluster.nodes_known),
    "node_index": lambda v, p: (
        v.node_index.all_bits, v.node_index.members(p.bits),
        [(sorted(v.node_index.values(k)), v.node_index.has(k)) for k in KEYS],
        [v.node_index.eq(k, value) for k in KEYS for value, _ in sorted(v.node_index.values(k))]),
    "reservation_index": lambda v, p: [sorted(ids(v.reservation_index.overlapping(pool.network)))
                                       for pool in v.cluster.pools if pool.network is not None],
    "workload_pools": lambda v, p: {version: ids(ps) for version, ps in v.workload_pools.items() if ps},
    "selected_bits": lambda v, p: [v.selected_bits(pool) for pool in v.cluster.pools],
    "overlapping": lambda v, p: [sorted(ids(v.overlapping(pool))) for pool in v.cluster.pools],
    "unserved_bits": lambda v, p: [v.unserved_bits(version) for version in (4, 6)],
    "fallback_pools": lambda v, p: [ids(v.fallback_pools(version)) for version in (4, 6)],
    "families_in_use": lambda v, p: v.families_in_use(),
    "node_position": lambda v, p: [v.node_position(node) for node in v.cluster.nodes],
    "pools_in": lambda v, p: (ids(v.pools_in(p.resources)), ids(v.pools_in(frozenset(p.resources)))),
    "nodes_in": lambda v, p: (ids(v.nodes_in(p.resources)), ids(v.nodes_in(frozenset(p.resources)))),
    "pools_named": lambda v, p: [ids(v.pools_named(name))
                                 for name in sorted({x.name for x in v.cluster.pools} | {"pool-1", "new-0"})],
    "pools_where": lambda v, p: [ids(where(v, version)) for version in (4, 6)],
    "least": lambda v, p: [v.least(f"test-enabled-{version}", enabled_of(version), block_addresses)
                           for version in (4, 6)],
    "pool_sets": lambda v, p: [sorted((bits, ids(ps)) for bits, ps in v.pool_sets(where(v, version), p.scope))
                               for version in (4, 6)],
    "pods_groups": lambda v, p: (v.pods_groups(110), v.pods_groups(250)),
    "exemptions": lambda v, p: v.exemptions(),
    "members": lambda v, p: ids(v.members(p.bits)),
    "field_source": lambda v, p: [v.field_source(x, path) for x in (*v.cluster.pools, *v.cluster.reservations)
                                  for path in (("spec", "cidr"), ("spec", "ipipMode"), ("metadata",))],
    "pool_groups": lambda v, p: [sorted((positions, ids(ps))
                                        for positions, ps in v.pool_groups(where(v, version), p.scope))
                                 for version in (4, 6)],
}


def protocol_members(protocol: type) -> set[str]:
    return {name for name in vars(protocol) if not name.startswith("_")}


def test_every_question_of_the_view_protocol_is_asked() -> None:
    """A question added to View without an asker here fails: the equivalence test cannot miss it."""
    assert set(ASK) == protocol_members(View)


def assert_same_answers(delta: DeltaView, fresh: ClusterView, rng: random.Random) -> None:
    asked = probe(delta, rng)
    for name, ask in ASK.items():
        assert ask(delta, asked) == ask(fresh, asked), name


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


@given(st.lists(st.integers(0, 50), max_size=40, unique=True),
       st.sets(st.integers(-5, 60), max_size=12),
       st.lists(st.integers(-5, 60), max_size=8))
@settings(max_examples=300, deadline=None)
def test_a_patched_list_is_the_list_it_stands_for(positions: list[int], gone: set[int],
                                                  inserts: list[int]) -> None:
    """PatchedList answers len, truth, iteration and indexing as the patched copy would, before and
    after it is built, whether `gone` names keys of the list or keys it never had."""
    positions.sort()
    items = [f"item-{key}" for key in positions]
    added = [(key, f"new-{j}") for j, key in enumerate(inserts)]
    expected = patched(items, positions, gone, added)
    lazy = PatchedList(items, positions, gone, added)
    assert len(lazy) == len(expected) and bool(lazy) == bool(expected)
    assert list(lazy) == expected and lazy == expected
    if expected:
        assert lazy[0] == expected[0] and lazy[-1] == expected[-1] and lazy[1:] == expected[1:]


@given(st.integers(0, 30), st.data())
@settings(max_examples=300, deadline=None)
def test_an_edited_list_is_the_list_it_stands_for(size: int, data: st.DataObject) -> None:
    """EditedList answers len, truth, indexing (negative and out of range too), slicing and iteration as
    the edited copy would, whether it drops positions or not, before and after it is copied."""
    items = [f"item-{i}" for i in range(size)]
    positions = data.draw(st.lists(st.integers(0, max(size - 1, 0)), unique=True, max_size=size))
    split = data.draw(st.integers(0, len(positions)))
    replaced = {i: f"put-{i}" for i in positions[:split]}
    dropped = set(positions[split:]) if data.draw(st.booleans()) else set()
    appended = [f"new-{j}" for j in range(data.draw(st.integers(0, 3)))]
    expected = [replaced.get(i, item) for i, item in enumerate(items) if i not in dropped] + appended
    edited = EditedList(items, replaced, dropped, appended)
    assert len(edited) == len(expected) and bool(edited) == bool(expected)
    for index in range(-len(expected) - 2, len(expected) + 2):
        if -len(expected) <= index < len(expected):
            assert edited[index] == expected[index]
        else:
            with pytest.raises(IndexError):
                edited[index]
    assert edited[1:] == expected[1:] and list(edited) == expected and edited == expected


@pytest.mark.parametrize("seed", range(100))
def test_a_focus_lists_its_nodes_as_the_node_set_holds_them(seed: int) -> None:
    """plan.NodeResources, listed when first read, is the set of the resources of the node set's members,
    whether it is read by membership, iteration or size first."""
    rng = random.Random(seed)
    snapshot = Snapshot(random_cluster(rng), 1, 0.0).warm()
    everyone = snapshot.view.node_index.all_bits
    bits = rng.getrandbits(max(everyone.bit_length(), 1)) & everyone
    expected = frozenset(n.resource for n in snapshot.view.members(bits))
    lazy = NodeResources(snapshot, bits)
    probe = [*expected, Resource("v1", "Node", "node-new")]
    first = rng.choice(["in", "iter", "len"])
    if first == "in":
        assert [r in lazy for r in probe] == [r in expected for r in probe]
    elif first == "iter":
        assert frozenset(lazy) == expected
    assert len(lazy) == len(expected) and lazy == expected and set(lazy) == expected


def kinds_of(change: Change) -> frozenset[str]:
    """The kinds of object a change puts or drops, as `Rule.reads` names them."""
    return frozenset(kind for kind, touched in (("pools", change.touches_pools),
                                                ("nodes", change.put_node is not None),
                                                ("reservations", change.touches_reservations)) if touched)


@pytest.mark.parametrize("seed", range(300))
def test_a_rule_finds_the_same_after_a_write_of_a_kind_it_does_not_read(seed: int) -> None:
    """`Rule.reads` is exact: for every rule, a random write of a kind the rule does not declare leaves its
    findings (messages, objects, related objects) as they were, so the webhook may skip it
    (`decision.rules_reading`). The writes are every kind `random_change` makes: pools, Installations,
    nodes, reservations, each put or dropped."""
    rng = random.Random(seed)
    cluster = random_cluster(rng)
    snapshot = Snapshot(cluster, 1, 0.0).warm()
    change = random_change(rng, cluster)
    delta = DeltaView(snapshot, change)
    written = kinds_of(change)
    for rule in REGISTRY.values():
        if rule.target != "lint" or rule.reads & written:
            continue
        config = only(Config(), frozenset({rule.id}))[0]
        before = run(cluster, config, None, ClusterView(cluster)).findings
        after = run(delta.cluster, config, None, delta).findings
        assert finding_tuples(after) == finding_tuples(before), (rule.id, written)


@pytest.mark.parametrize("seed", range(150))
def test_a_delete_leaves_the_object_rules_nothing_to_judge(seed: int) -> None:
    """`decision.judge` runs no object rule for a DELETE; this shows they would find nothing: on random
    states (broken pools, operator pools sharing names, reservations), deleting any pool or reservation in
    either Calico API group, or one the state does not hold, with or without its oldObject, leaves the
    object rules' run over the after-state empty."""
    rng = random.Random(seed)
    cluster = random_cluster(rng)
    snapshot = Snapshot(cluster, 1, 0.0).warm()
    targets: list[tuple[str, str, dict[str, Any] | None]] = [
        ("IPPool", p.name, {"cidr": p.spec.get("cidr"), "nodeSelector": p.spec.get("nodeSelector")})
        for p in cluster.pools]
    targets += [("IPReservation", r.resource.name, {"reservedCIDRs": list(r.cidrs)})
                for r in cluster.reservations]
    targets += [("IPPool", "pool-gone", None), ("IPReservation", "res-gone", None)]
    for kind, name, spec in targets:
        group, version = rng.choice([V1, V3]).split("/")
        old = None if spec is None or rng.random() < 0.3 else {
            "apiVersion": f"{group}/{version}", "kind": kind, "metadata": {"name": name}, "spec": spec}
        request = AdmissionRequest(f"uid-{seed}", "DELETE", group, version, kind, name, None, old, False)
        plan = make_plan(snapshot, request)
        assert object_findings(plan.after, plan, Config()) == [], (kind, name, group)
    # the same rules over a written object that stays do find things (the check can fail)
    broken = random_pool(rng, "pool-broken", 1)
    body = {"apiVersion": V1, "kind": "IPPool", "metadata": {"name": "pool-broken"},
            "spec": {**broken.spec, "cidr": "10.0.0.1/8"}}
    group, version = V1.split("/")
    request = AdmissionRequest("uid", "CREATE", group, version, "IPPool", "pool-broken", body, None, False)
    plan = make_plan(snapshot, request)
    assert "cidr-invalid" in {f.rule for f in object_findings(plan.after, plan, Config())}


def test_each_kind_of_write_skips_the_rules_that_do_not_read_it() -> None:
    """The declarations at work: a Node write runs no rule of pools alone, an IPReservation write no rule of
    nodes, and a pool write every rule that reads pools."""
    assert "pool-overlap" not in rules_reading(frozenset({"nodes"}))
    assert "node-unselected" in rules_reading(frozenset({"nodes"}))
    assert "node-block-limit" not in rules_reading(frozenset({"reservations"}))
    assert "reservation-covers-pool" in rules_reading(frozenset({"reservations"}))
    pool_rules = {r.id for r in REGISTRY.values() if "pools" in r.reads}
    assert rules_reading(frozenset({"pools"})) == pool_rules
