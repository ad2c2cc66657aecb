"""What one webhook process may spend: memory that stays flat over many requests, and time that grows
with a request's size, not its square. In-process through the real Flask app (`create_app`), because
what is measured is the judging, not the transport; bench/bench_memory.py and bench/bench_decision.py
give the figures at scale."""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any

from flask.testing import FlaskClient

from tests.webhook_support import STATE, node, pool, review
from validator.config import Config
from validator.webhook.admission import parse_review
from validator.webhook.app import create_app
from validator.webhook.decision import judge
from validator.webhook.state import StaticState


def varied(n: int) -> dict[str, Any]:
    """Request `n` of a mix of every judged kind and operation, each a different object."""
    third, fourth = (n >> 8) % 256, n % 256
    kinds = [
        lambda: review("CREATE", pool(f"new-{n}", f"10.{50 + third % 100}.{fourth}.0/24", 'rack == "1"')),
        lambda: review("CREATE", pool(f"overlap-{n}", f"10.10.1.{fourth}/32", 'rack == "1"')),
        lambda: review("UPDATE", labelled(pool("rack-1", "10.10.1.0/24", 'rack == "1"',
                                               natOutgoing=bool(n % 2)), n),
                       pool("rack-1", "10.10.1.0/24", 'rack == "1"')),
        lambda: review("DELETE", old=labelled(pool("rack-2", "10.10.2.0/24", 'rack == "2"'), n)),
        lambda: review("UPDATE", node("worker-1a", rack="1", build=f"b{n}"), node("worker-1a", rack="1")),
        lambda: review("CREATE", node(f"new-node-{n}", rack=str(n % 3))),
        lambda: review("CREATE", {"apiVersion": "projectcalico.org/v3", "kind": "IPReservation",
                                  "metadata": {"name": f"res-{n}"},
                                  "spec": {"reservedCIDRs": [f"10.10.1.{fourth}/32"]}}),
        lambda: review("CREATE", {"apiVersion": "operator.tigera.io/v1", "kind": "Installation",
                                  "metadata": {"name": "default"}, "spec": {"calicoNetwork": {"ipPools": [
                                      {"name": f"op-{n}", "cidr": f"10.{150 + third % 100}.{fourth}.0/24",
                                       "nodeSelector": "all()"}]}}}),
    ]
    return kinds[n % len(kinds)]()


def labelled(obj: dict[str, Any], n: int) -> dict[str, Any]:
    obj["metadata"]["labels"] = {"request": str(n)}
    return obj


def post_all(test_client: FlaskClient, start: int, stop: int) -> None:
    for n in range(start, stop):
        reply = test_client.post("/validate", json=varied(n))
        assert reply.status_code == 200, reply.get_data(as_text=True)
        response = reply.get_json()["response"]
        assert response.get("status", {}).get("code") != 500, response  # judged, not an internal error
        assert response["allowed"] is (n % 8 not in (1, 3)), (n, response)  # an overlap, a stranding DELETE


def test_memory_stays_flat_over_many_different_requests() -> None:
    """Every per-request memo is bounded or dies with its request: after a warm-up, 1,600 more requests
    (each a different object, every kind and operation) leave almost nothing behind. Before the fix each
    request left one or two entries on the shared snapshot view (about 0.8 KB each)."""
    test_client = create_app(StaticState(str(STATE)), Config()).test_client()
    post_all(test_client, 0, 400)
    gc.collect()
    tracemalloc.start()
    try:
        first, _ = tracemalloc.get_traced_memory()
        post_all(test_client, 400, 2000)
        gc.collect()
        last, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert last - first < 150_000, f"{(last - first) / 1600:.0f} bytes kept per request"


def installation(count: int, offset: int = 0) -> dict[str, Any]:
    pools = [{"name": f"p{offset}-{i}", "cidr": f"10.{100 + (i >> 8)}.{i & 255}.{offset * 8}/29",
              "nodeSelector": "all()", "blockSize": 30} for i in range(count)]
    return review("CREATE", {"apiVersion": "operator.tigera.io/v1", "kind": "Installation",
                             "metadata": {"name": "default"}, "spec": {"calicoNetwork": {"ipPools": pools}}})


SCHEMA_OFF = Config(rule_levels={"schema-invalid": "off"})  # so that every relational rule judges the pools


def judging_time(state: StaticState, count: int, config: Config = SCHEMA_OFF) -> float:
    """The fastest of two judgements of an Installation of `count` pools (different objects each time)."""
    snapshot = state.current()
    assert snapshot is not None
    times = []
    for offset in range(2):
        request = parse_review(installation(count, offset))
        started = time.perf_counter()
        decision = judge(snapshot, request, config)
        times.append(time.perf_counter() - started)
        assert decision.warnings or not decision.allowed  # pool-capacity, or schema-invalid past 25
    return min(times)


def test_an_installations_cost_does_not_grow_past_the_pools_its_crd_allows() -> None:
    """The CRD allows 25 ipPools, so the API server never sends more: 4,000 entries (only a client on the
    node port can send them) may cost at most three times what 25 cost, judged in full, schema and all."""
    state = StaticState(str(STATE))
    judging_time(state, 5, Config())  # imports and first-use indexes
    allowed, excess = judging_time(state, 25, Config()), judging_time(state, 4000, Config())
    assert excess < 3 * allowed + 0.05, f"25 pools: {allowed:.3f} s, 4,000 entries: {excess:.3f} s"
    with_all_rules = judging_time(state, 25)
    assert with_all_rules < 1.0, f"25 pools through every relational rule: {with_all_rules:.3f} s"


def test_an_object_its_own_schema_refuses_is_denied_without_the_relational_rules() -> None:
    """Thousands of ipPools (the CRD allows 25) are denied for schema-invalid, with a message kubectl can
    show: long messages are cut in the middle, keeping what is wrong and why."""
    state = StaticState(str(STATE))
    test_client = create_app(state, Config()).test_client()
    reply = test_client.post("/validate", json=installation(3000))
    response = reply.get_json()["response"]
    assert reply.status_code == 200 and response["allowed"] is False
    message = response["status"]["message"]
    assert message.startswith("creating Installation/default: [schema-invalid]")
    assert "spec.calicoNetwork.ipPools has more than 25 items" in message and len(message) < 1500


def test_a_huge_bad_value_is_denied_with_a_message_cut_in_the_middle() -> None:
    """A schema error quotes the value: a 100,000-character ipipMode must not make a 100 KB denial. The cut
    keeps the start (which object, which field) and the end (what was allowed)."""
    state = StaticState(str(STATE))
    test_client = create_app(state, Config()).test_client()
    body = pool("huge", "10.77.0.0/16")
    body["spec"]["ipipMode"] = "Al" + "w" * 100_000 + "ays"
    reply = test_client.post("/validate", json=review("CREATE", body))
    response = reply.get_json()["response"]
    assert reply.status_code == 200 and response["allowed"] is False
    message = response["status"]["message"]
    assert "[schema-invalid]" in message and "spec.ipipMode" in message and " ... " in message
    assert message.rstrip().endswith(("(case-sensitive)", "documentation")) and len(message) < 2000
