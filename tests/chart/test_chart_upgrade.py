"""On upgrade the generated certificate is looked up and reused, so the CA the API server trusts never
changes under running pods. Helm's lookup needs a cluster: a minimal fake API server on loopback answers
discovery and the Secret, and `helm template --dry-run=server` renders against it as an upgrade would."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_render import NAMESPACE, Manifest, find, render, render_against_cluster

SECRET_PATH = f"/api/v1/namespaces/{NAMESPACE}/secrets/ippool-validator-tls"
# (group, kind, plural, namespaced) of every kind the chart renders by default.
KINDS = [
    ("", "Secret", "secrets", True),
    ("", "Service", "services", True),
    ("", "ServiceAccount", "serviceaccounts", True),
    ("", "Pod", "pods", True),
    ("apps", "Deployment", "deployments", True),
    ("policy", "PodDisruptionBudget", "poddisruptionbudgets", True),
    ("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", False),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", False),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        False,
    ),
]


def discovery() -> dict[str, dict[str, Any]]:
    groups = sorted({group for group, *_ in KINDS if group})
    routes: dict[str, dict[str, Any]] = {
        "/version": {"major": "1", "minor": "33", "gitVersion": "v1.33.1", "platform": "linux/amd64"},
        "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
        "/apis": {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": group,
                    "versions": [{"groupVersion": f"{group}/v1", "version": "v1"}],
                    "preferredVersion": {"groupVersion": f"{group}/v1", "version": "v1"},
                }
                for group in groups
            ],
        },
    }
    for group, kind, plural, namespaced in KINDS:
        path, group_version = (f"/apis/{group}/v1", f"{group}/v1") if group else ("/api/v1", "v1")
        listing = routes.setdefault(
            path, {"kind": "APIResourceList", "groupVersion": group_version, "resources": []}
        )
        listing["resources"].append(
            {
                "name": plural,
                "singularName": kind.lower(),
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["get"],
            }
        )
    return routes


class FakeCluster:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = discovery()
        self.requests: list[str] = []

    def handler(self) -> type[BaseHTTPRequestHandler]:
        cluster = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                cluster.requests.append(path)
                body = cluster.objects.get(path)
                status = 200 if body else 404
                if body is None:
                    body = {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "reason": "NotFound",
                        "code": 404,
                    }
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[FakeCluster, Path]]:
    fake = FakeCluster()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "fake", "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"}}
                ],
                "users": [{"name": "test", "user": {"token": "not-a-secret"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "test"}}],
                "current-context": "fake",
            }
        )
    )
    try:
        yield fake, kubeconfig
    finally:
        server.shutdown()
        server.server_close()


def installed_secret(data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {
            "name": "ippool-validator-tls",
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {
                "meta.helm.sh/release-name": "ippool-validator",
                "meta.helm.sh/release-namespace": NAMESPACE,
            },
        },
        "data": data,
    }


def ca_bundles(objects: list[Manifest]) -> set[str]:
    return {
        w["clientConfig"]["caBundle"] for w in find(objects, "ValidatingWebhookConfiguration")["webhooks"]
    }


def test_upgrade_reuses_the_installed_certificate(cluster: tuple[FakeCluster, Path]) -> None:
    fake, kubeconfig = cluster
    first_install = find(render(), "Secret")["data"]
    fake.objects[SECRET_PATH] = installed_secret(first_install)
    upgraded = render_against_cluster(kubeconfig)
    assert SECRET_PATH in fake.requests
    assert find(upgraded, "Secret")["data"] == first_install
    assert ca_bundles(upgraded) == {first_install["ca.crt"]}


def test_first_install_generates_a_certificate(cluster: tuple[FakeCluster, Path]) -> None:
    fake, kubeconfig = cluster
    installed = render_against_cluster(kubeconfig)
    assert SECRET_PATH in fake.requests
    data = find(installed, "Secret")["data"]
    assert base64.b64decode(data["ca.crt"]).startswith(b"-----BEGIN CERTIFICATE-----")
    assert ca_bundles(installed) == {data["ca.crt"]}


def test_an_incomplete_secret_is_replaced_whole(cluster: tuple[FakeCluster, Path]) -> None:
    fake, kubeconfig = cluster
    old = find(render(), "Secret")["data"]
    fake.objects[SECRET_PATH] = installed_secret({"tls.crt": old["tls.crt"], "tls.key": old["tls.key"]})
    data = find(render_against_cluster(kubeconfig), "Secret")["data"]
    assert set(data) == {"tls.crt", "tls.key", "ca.crt"}
    assert data["tls.crt"] != old["tls.crt"]
