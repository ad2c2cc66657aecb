"""`--state cluster`: list and watch against a fake Kubernetes API server (tests/kubefake.py).

No kube-apiserver can run on the machines these tests run on, so `FakeKube` speaks the list and watch API
on 127.0.0.1: paged lists, chunked watch streams, ERROR 410 when a watch's resourceVersion is gone, and
connections dropped mid-stream. The state must follow every change, re-list after a 410, resume after a
drop, and not be ready before its first full list.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.kubefake import (
    CALICO_CRDS,
    CALICO_V3,
    INSTALLATIONS,
    NODES,
    FakeKube,
    installation,
    ippool,
    ipreservation,
    node,
)
from tests.webhook_support import review, running_server, wait_until
from validator.webhook.state import ClusterState

TIMEOUT = 10


def api_client(fake: FakeKube) -> Any:
    configuration = client.Configuration()
    configuration.host = fake.url
    return client.ApiClient(configuration)


@pytest.fixture()
def fake() -> Iterator[FakeKube]:
    with FakeKube() as running:
        running.add_all([node("worker-1", {"rack": "1"}), node("worker-2", {"rack": "2"}),
                         ippool("rack-1", "10.1.0.0/24", 'rack == "1"'),
                         ippool("rack-2", "10.2.0.0/24", 'rack == "2"')])
        yield running


@pytest.fixture()
def state(fake: FakeKube) -> Iterator[ClusterState]:
    watched = ClusterState(api_client(fake), debounce=0.02, watch_timeout=5, min_interval=0)
    watched.start()
    wait_until(watched.ready, TIMEOUT, "the state never became ready")
    yield watched
    watched.stop()


def names(state: ClusterState, kind: str) -> list[str]:
    snapshot = state.current()
    assert snapshot is not None
    objects = {"pools": snapshot.cluster.pools, "nodes": snapshot.cluster.nodes,
               "reservations": snapshot.cluster.reservations}[kind]
    return sorted(o.resource.name for o in objects)


def eventually(state: ClusterState, kind: str, expected: list[str]) -> None:
    wait_until(lambda: names(state, kind) == expected, TIMEOUT,
               lambda: f"{kind}: {names(state, kind)} != {expected}")


def test_the_first_list_makes_the_state(state: ClusterState, fake: FakeKube) -> None:
    assert names(state, "pools") == ["rack-1", "rack-2"]
    assert names(state, "nodes") == ["worker-1", "worker-2"]
    snapshot = state.current()
    assert snapshot is not None and snapshot.cluster.nodes_known
    node_lists = [(path, accept) for path, query, accept in fake.requests
                  if path == NODES.path and "watch" not in query]
    assert node_lists and all("as=PartialObjectMetadataList" in accept for _, accept in node_lists)


def test_watch_events_change_the_state(state: ClusterState, fake: FakeKube) -> None:
    fake.add(node("worker-3", {"rack": "1"}))
    fake.add(ipreservation("gateways", "10.1.0.1/32"))
    fake.modify(ippool("rack-2", "10.2.0.0/24", 'rack == "two"'))
    fake.delete(CALICO_CRDS[0], "rack-1")
    eventually(state, "nodes", ["worker-1", "worker-2", "worker-3"])
    eventually(state, "reservations", ["gateways"])
    eventually(state, "pools", ["rack-2"])
    snapshot = state.current()
    assert snapshot is not None and snapshot.cluster.pools[0].node_selector == 'rack == "two"'


def test_a_watch_that_ends_with_410_is_followed_by_a_new_list(state: ClusterState, fake: FakeKube) -> None:
    lists = {r.resource.name: r.lists for r in state.reflectors}
    fake.expire_watches()
    fake.add(node("worker-9", {"rack": "9"}))  # happens while the clients re-list: must not be lost
    eventually(state, "nodes", ["worker-1", "worker-2", "worker-9"])
    wait_until(lambda: all(r.lists > lists[r.resource.name] for r in state.reflectors), TIMEOUT)


def test_a_dropped_connection_resumes_the_watch_without_losing_events(state: ClusterState,
                                                                       fake: FakeKube) -> None:
    lists = sum(r.lists for r in state.reflectors)
    watches = fake.watch_count()
    fake.drop_watches()
    fake.add(ippool("rack-3", "10.3.0.0/24", 'rack == "3"'))
    eventually(state, "pools", ["rack-1", "rack-2", "rack-3"])
    wait_until(lambda: fake.watch_count() > watches, TIMEOUT)
    assert sum(r.lists for r in state.reflectors) == lists  # resumed from its resourceVersion, no re-list
    assert all(r.errors >= 1 for r in state.reflectors)


def test_a_node_heartbeat_does_not_rebuild_the_state(state: ClusterState, fake: FakeKube) -> None:
    fake.add(node("worker-3"))
    eventually(state, "nodes", ["worker-1", "worker-2", "worker-3"])
    rebuilds = state.rebuilds
    for _ in range(5):
        fake.modify(node("worker-3", pods=110))  # status only: the labels are the same
    fake.add(node("worker-4"))
    eventually(state, "nodes", ["worker-1", "worker-2", "worker-3", "worker-4"])
    assert state.rebuilds == rebuilds + 1


def test_not_ready_until_the_api_answers(fake: FakeKube) -> None:
    fake.fail_next("/apis", 503, times=2)
    fake.fail_next(NODES.path, 500, times=1)
    watched = ClusterState(api_client(fake), debounce=0.02, watch_timeout=5, min_interval=0)
    watched.start()
    try:
        assert not watched.ready()
        wait_until(watched.ready, 20, "never ready after the API recovered")
        assert names(watched, "nodes") == ["worker-1", "worker-2"]
    finally:
        watched.stop()


def test_lists_are_paged() -> None:
    with FakeKube() as fake:
        fake.add_all(node(f"n-{i:04}", {"rack": str(i % 7)}) for i in range(1100))
        watched = ClusterState(api_client(fake), debounce=0.02, watch_timeout=5, min_interval=0)
        watched.start()
        try:
            wait_until(watched.ready, 20)
            assert len(names(watched, "nodes")) == 1100
            pages = [query for path, query, _ in fake.requests if path == NODES.path and "continue=" in query]
            assert len(pages) == 2
        finally:
            watched.stop()


def test_v3_is_read_when_served_and_operator_pools_yield_to_ippools() -> None:
    with FakeKube([NODES, *CALICO_CRDS, *CALICO_V3, INSTALLATIONS]) as fake:
        fake.add(ippool("from-crd", "10.8.0.0/16"))
        fake.add(ippool("from-v3", "10.9.0.0/16", api_version="projectcalico.org/v3"))
        fake.add(installation([{"name": "from-v3", "cidr": "10.9.0.0/16"},
                               {"name": "pending", "cidr": "10.7.0.0/16"}]))
        watched = ClusterState(api_client(fake), debounce=0.02, watch_timeout=5, min_interval=0)
        watched.start()
        try:
            wait_until(watched.ready, TIMEOUT)
            snapshot = watched.current()
            assert snapshot is not None
            assert sorted((p.resource.api_version, p.name) for p in snapshot.cluster.pools) == [
                ("operator.tigera.io/v1", "pending"), ("projectcalico.org/v3", "from-v3")]
            assert not any(path.startswith("/apis/crd.projectcalico.org") for path, _, _ in fake.requests
                           if path.endswith("ippools"))
        finally:
            watched.stop()


def test_serve_with_the_cluster_state_judges_against_what_it_watches(fake: FakeKube, tmp_path: Path) -> None:
    kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
    with running_server(tmp_path, ("--state", "cluster", "--kubeconfig", str(kubeconfig))) as server:
        overlapping = ippool("rack-1-bis", "10.1.0.128/25", 'rack == "1"')
        assert server.review(review("CREATE", overlapping))["allowed"] is False
        fake.add(ippool("fallback", "10.100.0.0/16"))
        fresh = ippool("inside-fallback", "10.100.1.0/24")

        def denied() -> bool:
            return server.review(review("CREATE", fresh))["allowed"] is False

        wait_until(denied, TIMEOUT, "the new pool from the watch was never judged against")
        deleted = server.review(review("DELETE", old=ippool("rack-2", "10.2.0.0/24", 'rack == "2"')))
        assert deleted["allowed"] is True  # the watched fallback pool now serves worker-2
