"""`ippool-validator exporter` over a live cluster: tests/kubefake.py (no kube-apiserver can run here) serving
the IPAM CRDs in crd.projectcalico.org/v1 with tests/ipam_support.py's planted cluster. The real command
runs as a subprocess on 127.0.0.1 (port 0, the one it prints), and is scraped over HTTP."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import ipam_support as s
import kubefake as kf
import pytest
from exporter_support import CLUSTER, Running, plant, ready

from validator.exporter.reader import Reader
from validator.exporter.server import HEADER_SECONDS
from validator.sources.kubeapi import Api


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[kf.FakeKube, Path]]:
    with kf.FakeKube(CLUSTER) as fake:
        plant(fake)
        yield fake, fake.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def exporter(cluster: tuple[kf.FakeKube, Path]) -> Iterator[Running]:
    running = Running(cluster[1])
    try:
        yield running
    finally:
        running.stop()


def blocks(pool: str, state: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("ippool_validator_pool_blocks", (("pool", pool), ("state", state)))


def headroom(pool: str, node: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("ippool_validator_node_block_headroom", (("node", node), ("pool", pool)))


def leaks(cls: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("ippool_validator_ipam_leaks", (("class", cls),))


def test_scrape_shows_the_planted_cluster_then_follows_its_blocks(
        cluster: tuple[kf.FakeKube, Path], exporter: Running) -> None:
    fake, _ = cluster
    assert exporter.get("/healthz")[0] == 200
    ready(exporter)
    found = exporter.samples()
    assert found[blocks("rack-1-ippool", "allocated")] == 2 and found[blocks("rack-1-ippool", "free")] == 2
    assert found[blocks("rack-0-ippool", "free")] == 0
    assert found[headroom("rack-1-ippool", "n2")] == 1 and found[headroom("rack-0-ippool", "n0")] == 0
    assert found[("ippool_validator_nodes", (("state", "at_block_limit"),))] == 1
    assert {k[1][0][1]: v for k, v in found.items() if k[0] == "ippool_validator_ipam_leaks"} == {
        "leaked_address": 2, "suspect_address": 1, "orphaned_handle": 1, "missing_handle": 1,
        "stale_affinity": 1, "invalid_block": 0}
    assert found[("ippool_validator_audit_failures_total", ())] == 0
    # n2 claims a second rack-1 block: the pool has one free block left, n2 is at its limit of 2
    late = s.pod_owner("apps", "late", "n2", datetime.now(timezone.utc))
    fake.add(s.block("10.0.1.128/26", {0: late}, "n2"))
    fake.add(s.pod("apps", "late", "n2", ["10.0.1.128"]))
    moved = exporter.wait(lambda f: f[blocks("rack-1-ippool", "allocated")] == 3)
    assert moved[blocks("rack-1-ippool", "free")] == 1 and moved[headroom("rack-1-ippool", "n2")] == 0
    assert moved[("ippool_validator_nodes", (("state", "at_block_limit"),))] == 2
    assert moved[("ippool_validator_audit_last_success_timestamp_seconds", ())] > \
        found[("ippool_validator_audit_last_success_timestamp_seconds", ())]
    assert not [q for _, q, _ in fake.requests if "watch" in q]  # lists only
    pod_lists = [accept for path, _, accept in fake.requests if path == "/api/v1/pods"]
    assert pod_lists and all("as=PartialObjectMetadataList" in a for a in pod_lists)


def test_a_failed_audit_keeps_the_last_series_and_counts(cluster: tuple[kf.FakeKube, Path],
                                                         exporter: Running) -> None:
    fake, _ = cluster
    ready(exporter)
    before = exporter.samples()
    fake.fail_next("/apis/crd.projectcalico.org/v1/ipamblocks", 500, times=2)
    after = exporter.wait(lambda f: f[("ippool_validator_audit_failures_total", ())] >= 1)
    assert after[("ippool_validator_audit_failures_total", ())] >= 1
    assert after[blocks("rack-1-ippool", "allocated")] == before[blocks("rack-1-ippool", "allocated")]
    assert exporter.get("/readyz")[0] == 200  # still ready: staleness shows in the timestamp
    output = exporter.stop()
    failures = [line for line in output.splitlines() if "audit failed" in line]
    assert failures and all("HTTP 500" in line for line in failures)
    assert "Traceback" not in output


def test_not_ready_before_the_first_audit_and_unknown_paths_are_404(tmp_path: Path) -> None:
    with kf.FakeKube(CLUSTER) as fake:  # serves no IPAMBlock list: every audit fails
        fake.fail_next("/apis/crd.projectcalico.org/v1/ipamblocks", 403, times=1000)
        running = Running(fake.write_kubeconfig(tmp_path / "kubeconfig"))
        try:
            found = running.wait(lambda f: f[("ippool_validator_audit_failures_total", ())] >= 1)
            assert running.get("/readyz")[0] == 503 and running.get("/healthz")[0] == 200
            assert running.get("/nothing")[0] == 404
            assert not any(k[0].startswith("ippool_validator_pool") for k in found)
        finally:
            running.stop()


def test_stalled_and_idle_scrapers_do_not_block_another(exporter: Running) -> None:
    ready(exporter)
    port = int(exporter.url.rsplit(":", 1)[1])
    idle = socket.create_connection(("127.0.0.1", port))
    slow = socket.create_connection(("127.0.0.1", port))
    slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and never the end of its headers
    unread = socket.create_connection(("127.0.0.1", port))
    unread.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")  # and never reads the answer
    try:
        started = time.monotonic()
        assert exporter.get("/metrics", timeout=3)[0] == 200
        assert time.monotonic() - started < 2
        slow.settimeout(HEADER_SECONDS + 5)
        started = time.monotonic()
        while slow.recv(4096):  # the server ends the slow sender's connection at its header deadline
            pass
        assert time.monotonic() - started < HEADER_SECONDS + 3
    finally:
        for conn in (idle, slow, unread):
            conn.close()


def test_list_and_diff_decodes_only_what_changed(cluster: tuple[kf.FakeKube, Path]) -> None:
    """In process, over the same fake cluster: a second pass decodes nothing, a changed block is decoded
    again, and a deleted one leaves the cache."""
    from validator.sources.kube import _client

    fake, kubeconfig = cluster
    name, client = _client(str(kubeconfig), None)
    reader = Reader(Api(client), name)
    first = reader.read()
    objects = len(first.blocks) + len(first.affinities) + len(first.pods or {})
    assert reader.cache.decoded == objects
    second = reader.read()
    assert reader.cache.decoded == 0 and second.blocks[0] is first.blocks[0]
    changed = fake._objects[kf.CRD_IPAMBLOCKS.path]["10-0-1-64-26"]
    changed["spec"]["affinity"] = "host:n1"
    fake.modify(changed)
    fake.delete(kf.CRD_IPAMBLOCKS, "10-0-0-64-26")
    third = reader.read()
    assert reader.cache.decoded == 1
    assert {b.resource.name: b.host for b in third.blocks}["10-0-1-64-26"] == "n1"
    assert len(reader.cache.blocks) == len(first.blocks) - 1
    client.close()


def test_an_unusable_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from validator.cli import main

    missing = tmp_path / "nope"
    result = CliRunner().invoke(main, ["exporter", "--kubeconfig", str(missing), "--port", "0"])
    assert result.exit_code == 2
    assert str(missing) in result.output and "Traceback" not in result.output
