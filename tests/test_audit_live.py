"""`audit --kubeconfig`: the planted cluster served by tests/kubefake.py (no kube-apiserver can run here),
with the IPAM CRDs in `crd.projectcalico.org/v1`, beside the aggregated API server's `projectcalico.org/v3`,
or as native v3 CRDs alone. Reads are lists only (no watch, no write, no lock)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import ipam_support as s
import kubefake as kf
import pytest
from click.testing import CliRunner

from validator.audit.core import audit
from validator.audit.live import read_live
from validator.cli import main
from validator.sources.kube import ClusterReadError

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
V1_CLUSTER = (kf.NODES, kf.PODS, *kf.CALICO_CRDS, *kf.CALICO_IPAM_CRDS)
# The aggregated API server serves pools, reservations, IPAM configuration and (read-only) affinities in
# projectcalico.org/v3, but no blocks or handles; the v1 CRDs hold everything.
API_SERVER_CLUSTER = (*V1_CLUSTER, *kf.CALICO_V3, kf.V3_BLOCKAFFINITIES)
V3_CLUSTER = (kf.NODES, kf.PODS, *kf.CALICO_V3, *kf.CALICO_IPAM_V3)


def _serve(fake: kf.FakeKube, api_version: str) -> None:
    for items in s.planted(NOW, api_version).values():
        fake.add_all(items)


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[kf.FakeKube, Path]]:
    resources, api_version = request.param
    with kf.FakeKube(resources) as fake:
        _serve(fake, api_version)
        yield fake, fake.write_kubeconfig(tmp_path / "kubeconfig")


def _keys(result) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return sorted(
        (f.rule, f.subject if f.rule in ("address-leaked", "handle-missing") else f.resource.name)
        for f in result.findings
    )


EXPECTED = sorted(s.PLANTED.values())


@pytest.mark.parametrize(
    "cluster",
    [(V1_CLUSTER, s.V1), (API_SERVER_CLUSTER, s.V1), (V3_CLUSTER, s.V3)],
    indirect=True,
    ids=["v1-crds", "api-server", "v3-crds"],
)
def test_live_cluster_gives_the_planted_findings(cluster: tuple[kf.FakeKube, Path]) -> None:
    fake, kubeconfig = cluster
    state = read_live(str(kubeconfig), None, pod_status=True)
    result = audit(state, NOW)
    assert _keys(result) == EXPECTED and not result.skipped_rules
    group = (
        "projectcalico.org/v3" if kf.V3_IPAMBLOCKS in fake.resources.values() else "crd.projectcalico.org/v1"
    )
    assert set(state.calico_groups.values()) == {group}  # one group, as Calico's own discovery picks it
    assert result.findings[0].source.file.startswith("cluster:fake/")
    assert not [q for path, q, _ in fake.requests if "watch" in q]


@pytest.mark.parametrize("cluster", [(V1_CLUSTER, s.V1)], indirect=True)
def test_pods_are_read_as_metadata_and_only_unannotated_ones_whole(cluster: tuple[kf.FakeKube, Path]) -> None:
    fake, kubeconfig = cluster
    bare = s.pod("default", "gone-new", "n1", ["10.0.1.6"])  # exists now, but Calico has not annotated it
    del bare["metadata"]["annotations"]
    fake.add(bare)
    result = audit(read_live(str(kubeconfig), None), NOW)
    pod_lists = [accept for path, _, accept in fake.requests if path == "/api/v1/pods"]
    assert pod_lists and all("as=PartialObjectMetadataList" in a for a in pod_lists)
    singles = [path for path, _, _ in fake.requests if path.startswith("/api/v1/namespaces/")]
    assert singles == ["/api/v1/namespaces/default/pods/gone-new"]
    assert "dual-stack-mismatch" in result.skipped_rules  # no status without --pod-status
    assert _keys(result) == sorted(k for k in EXPECTED if k[0] != "dual-stack-mismatch")


@pytest.mark.parametrize("cluster", [(V1_CLUSTER, s.V1)], indirect=True)
def test_cli_audits_the_cluster_and_pages_handles(cluster: tuple[kf.FakeKube, Path]) -> None:
    fake, kubeconfig = cluster
    for i in range(600):  # more than one page of 500
        fake.add(s.handle(f"k8s-pod-network.extra-{i:03}", {}))
    result = CliRunner().invoke(
        main,
        [
            "audit",
            "--kubeconfig",
            str(kubeconfig),
            "--pod-status",
            "--format",
            "json",
            "--now",
            "2026-12-01T09:00:00Z",
        ],
        catch_exceptions=False,
    )
    doc = json.loads(result.stdout)
    assert result.exit_code == 1 and doc["origin"] == "cluster:fake"
    assert doc["summary"]["handles"] == {"total": 736, "orphaned": 601, "missing": 1}
    assert sum(1 for path, q, _ in fake.requests if path.endswith("/ipamhandles")) == 2


@pytest.mark.parametrize(
    "resources, message",
    [
        ((kf.NODES, kf.PODS), "serves no IPAMBlocks"),
        (
            (kf.NODES, kf.PODS, *kf.CALICO_V3, kf.V3_BLOCKAFFINITIES),
            "serves no IPAMBlocks",
        ),  # API server, no CRDs?
    ],
)
def test_a_cluster_without_readable_blocks_is_an_error(
    tmp_path: Path, resources: tuple, message: str
) -> None:
    with kf.FakeKube(resources) as fake:
        kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
        with pytest.raises(ClusterReadError, match=message):
            read_live(str(kubeconfig), None)
        result = CliRunner().invoke(main, ["audit", "--kubeconfig", str(kubeconfig)])
        assert result.exit_code == 2 and message in result.stderr


def test_an_api_error_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    with kf.FakeKube(V1_CLUSTER) as fake:
        kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
        fake.fail_next("/apis/crd.projectcalico.org/v1/ipamblocks", 403)
        result = CliRunner().invoke(main, ["audit", "--kubeconfig", str(kubeconfig)])
        assert result.exit_code == 2 and "HTTP 403" in result.stderr
