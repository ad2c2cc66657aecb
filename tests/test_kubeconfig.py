"""`lint --kubeconfig`: nodes (and with --cluster-pools, pools) read from a live cluster through the
kubernetes client. The cluster is `tests/kubefake.py`, a fake API server on 127.0.0.1 (no kube-apiserver
can run on these machines), and each test writes its own kubeconfig."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from validator.cli import main
from validator.sources import kubeapi as kube

sys.path.insert(0, str(Path(__file__).parent))
from kubefake import (  # noqa: E402
    CALICO_CRDS,
    CALICO_V3,
    NODES,
    FakeKube,
    ippool,
    node,
)

RACK_POOL = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: rack-1}
spec: {cidr: 10.244.1.0/24, nodeSelector: rack == "1"}
"""


@pytest.fixture()
def fake() -> Iterator[FakeKube]:
    with FakeKube() as server:
        yield server


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pools").mkdir()
    (tmp_path / "pools" / "rack-1.yaml").write_text(RACK_POOL)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def lint(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["lint", *args])
    return result.exit_code, result.stdout, result.stderr


def kubeconfig_of(fake: FakeKube, repo: Path) -> Path:
    return fake.write_kubeconfig(repo.parent / "kubeconfig")


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def two_context_kubeconfig(path: Path, fake: FakeKube) -> Path:
    """Current context `broken` (nothing listens there), and `staging`, the fake."""
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "broken",
              "clusters": [{"name": "staging", "cluster": {"server": fake.url}},
                           {"name": "broken", "cluster": {"server": f"http://127.0.0.1:{dead_port()}"}}],
              "users": [{"name": "ci", "user": {"token": "t"}}],
              "contexts": [{"name": "staging", "context": {"cluster": "staging", "user": "ci"}},
                           {"name": "broken", "context": {"cluster": "broken", "user": "ci"}}]}
    path.write_text(yaml.safe_dump(config))
    return path


def test_without_nodes_the_node_rules_are_skipped_and_the_summary_says_so(repo: Path) -> None:
    code, out, _ = lint()
    assert code == 0 and "node rules skipped: no nodes known" in out


def test_live_nodes_feed_the_node_rules(repo: Path, fake: FakeKube) -> None:
    fake.add_all([node("worker-1", {"rack": "1"}), node("worker-2", {"rack": "2"})])
    kubeconfig = fake.write_kubeconfig(repo.parent / "kubeconfig")
    code, out, _ = lint("--kubeconfig", str(kubeconfig))
    assert code == 1
    assert "cluster:fake/nodes/worker-2:1: error node-unselected: Node/worker-2" in out
    assert "worker-1" not in out.split("node-unselected")[1]
    assert "(1 pool, 2 nodes)" in out and "skipped" not in out


def test_nodes_are_read_a_page_at_a_time(repo: Path, fake: FakeKube) -> None:
    fake.add_all([node(f"worker-{i}", {"rack": "1"}) for i in range(kube.PAGE_SIZE * 2 + 10)])
    code, out, _ = lint("--kubeconfig", str(fake.write_kubeconfig(repo.parent / "kubeconfig")))
    assert code == 0 and f"{kube.PAGE_SIZE * 2 + 10} nodes" in out
    pages = [query for path, query, _ in fake.requests if path == "/api/v1/nodes"]
    assert pages == [f"limit={kube.PAGE_SIZE}", f"limit={kube.PAGE_SIZE}&continue={kube.PAGE_SIZE}",
                     f"limit={kube.PAGE_SIZE}&continue={kube.PAGE_SIZE * 2}"]


def test_pools_are_not_read_unless_asked(repo: Path, fake: FakeKube) -> None:
    fake.add_all([node("worker-1", {"rack": "1"}), ippool("live-default", "10.244.0.0/16")])
    code, out, _ = lint("--kubeconfig", str(fake.write_kubeconfig(repo.parent / "kubeconfig")))
    assert code == 0 and "pool-overlap" not in out
    assert all(path == "/api/v1/nodes" for path, _, _ in fake.requests)


def test_cluster_pools_are_checked_against_the_repository(repo: Path, fake: FakeKube) -> None:
    fake.add_all([node("worker-1", {"rack": "1"}), ippool("live-default", "10.244.0.0/16")])
    code, out, _ = lint("--kubeconfig", str(kubeconfig_of(fake, repo)), "--cluster-pools")
    assert code == 1
    assert ("pools/rack-1.yaml:1: error pool-overlap: IPPool/rack-1 (10.244.1.0/24) overlaps "
            "IPPool/live-default (10.244.0.0/16) at cluster:fake/ippools/live-default:1") in out


def test_a_repository_pool_replaces_the_live_pool_of_its_name(repo: Path, fake: FakeKube) -> None:
    fake.add_all([node("worker-1", {"rack": "1"}), ippool("rack-1", "10.99.0.0/24", 'rack == "1"')])
    code, out, _ = lint("--kubeconfig", str(kubeconfig_of(fake, repo)), "--cluster-pools")
    assert code == 0, out
    assert "pool-name-duplicate" not in out and "(1 pool, 1 node)" in out


def test_the_calico_api_server_group_is_preferred_to_the_crds(repo: Path) -> None:
    with FakeKube(resources=(NODES, *CALICO_CRDS, *CALICO_V3)) as fake:
        fake.add_all([node("worker-1", {"rack": "1"}),
                      ippool("v3-pool", "10.1.0.0/16", api_version="projectcalico.org/v3"),
                      ippool("crd-copy", "10.2.0.0/16")])
        code, out, _ = lint("--kubeconfig", str(fake.write_kubeconfig(repo.parent / "kubeconfig")),
                            "--cluster-pools", "--format", "json")
        read = {path for path, _, _ in fake.requests}
    assert code == 0
    assert json.loads(out)["summary"]["pools"] == 2  # rack-1 and v3-pool, not crd-copy
    assert "/apis/projectcalico.org/v3/ippools" in read
    assert "/apis/crd.projectcalico.org/v1/ippools" not in read


def test_cluster_pools_without_calico_exits_2(repo: Path) -> None:
    with FakeKube(resources=(NODES,)) as fake:
        code, _, err = lint("--kubeconfig", str(fake.write_kubeconfig(repo.parent / "kubeconfig")),
                            "--cluster-pools")
    assert code == 2 and "serves neither projectcalico.org/v3 nor crd.projectcalico.org/v1" in err


def test_context_picks_the_cluster(repo: Path, fake: FakeKube) -> None:
    fake.add(node("worker-2", {"rack": "2"}))
    kubeconfig = two_context_kubeconfig(repo.parent / "kubeconfig", fake)
    code, out, _ = lint("--kubeconfig", str(kubeconfig), "--context", "staging")
    assert code == 1 and "cluster:staging/nodes/worker-2" in out


def test_an_unreachable_cluster_exits_2_without_a_traceback(repo: Path, fake: FakeKube) -> None:
    kubeconfig = two_context_kubeconfig(repo.parent / "kubeconfig", fake)
    code, out, err = lint("--kubeconfig", str(kubeconfig))  # the current context, broken
    assert code == 2 and out == ""
    assert err.startswith("cluster broken: cannot reach the API server at http://127.0.0.1:")


def test_an_unknown_context_lists_the_defined_ones(repo: Path, fake: FakeKube) -> None:
    kubeconfig = two_context_kubeconfig(repo.parent / "kubeconfig", fake)
    code, _, err = lint("--kubeconfig", str(kubeconfig), "--context", "prod")
    assert code == 2 and "no context 'prod'; it defines staging, broken" in err


def test_a_forbidden_list_exits_2_with_the_api_message(repo: Path, fake: FakeKube) -> None:
    fake.fail_next("/api/v1/nodes", 403)
    code, _, err = lint("--kubeconfig", str(fake.write_kubeconfig(repo.parent / "kubeconfig")))
    assert code == 2 and "cluster fake: HTTP 403" in err and "injected failure" in err


def test_a_broken_kubeconfig_exits_2(repo: Path) -> None:
    (repo.parent / "kubeconfig").write_text("clusters: [\n")
    code, _, err = lint("--kubeconfig", str(repo.parent / "kubeconfig"))
    assert code == 2 and "not a usable kubeconfig" in err


def test_context_and_cluster_pools_need_a_kubeconfig(repo: Path) -> None:
    assert lint("--context", "x")[0] == 2
    assert lint("--cluster-pools")[0] == 2


def test_nodes_dump_and_live_nodes_count_each_node_once(repo: Path, fake: FakeKube) -> None:
    fake.add_all([node("worker-1", {"rack": "1"}), node("worker-2", {"rack": "1"})])
    worker = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1", "labels": {"rack": "1"}}}
    dump = {"apiVersion": "v1", "kind": "NodeList", "items": [worker]}
    (repo / "nodes.yaml").write_text(yaml.safe_dump(dump))
    code, out, _ = lint("--nodes", "nodes.yaml", "--kubeconfig", str(kubeconfig_of(fake, repo)))
    assert code == 0 and "2 nodes" in out


def test_lint_on_files_never_imports_the_kubernetes_client(repo: Path) -> None:
    probe = ("import sys\nfrom validator.cli import main\n"
             "try:\n    main(['lint', '--format', 'sarif', '.'])\nexcept SystemExit:\n    pass\n"
             "print('kubernetes' in sys.modules, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=repo)
    assert proc.stderr.strip().splitlines()[-1] == "False"
