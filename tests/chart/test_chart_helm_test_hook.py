"""The `helm test` pod: its shape, and its script run for real against a local HTTPS AdmissionReview server
that serves the certificate the chart generated."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from chart_render import NAMESPACE, Manifest, find, render
from chart_scenarios import EXAMPLE_CA_PEM, SCENARIOS

SERVICE_HOST = f"ippool-validator.{NAMESPACE}.svc"


def hook_pod(objects: list[Manifest]) -> dict[str, Any]:
    return find(objects, "Pod", "ippool-validator-test")


def env_of(pod: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}


def test_hook_is_a_test_that_cleans_up_after_itself(default_objects: list[Manifest]) -> None:
    pod = hook_pod(default_objects)
    assert pod["metadata"]["annotations"] == {
        "helm.sh/hook": "test",
        "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
    }
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert env_of(pod) == {
        "WEBHOOK_URL": f"https://{SERVICE_HOST}:443",
        "CA_FILE": "/etc/ippool-validator/ca/ca.crt",
    }
    (volume,) = pod["spec"]["volumes"]
    assert volume["secret"] == {
        "secretName": "ippool-validator-tls",
        "items": [{"key": "ca.crt", "path": "ca.crt"}],
    }


def test_hook_trusts_the_given_ca_with_an_existing_secret() -> None:
    pod = hook_pod(render(SCENARIOS["tls-existing-secret"]))
    assert env_of(pod)["CA_PEM"] == EXAMPLE_CA_PEM
    assert "volumes" not in pod["spec"]


@dataclass
class StubWebhook:
    """Answers like the real server; `ready` and `uid_override` let a test make it misbehave."""

    ready: bool = True
    uid_override: str | None = None
    reviews: list[dict[str, Any]] = field(default_factory=list)


def handler_for(stub: StubWebhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            ok = self.path == "/healthz" or (self.path == "/readyz" and stub.ready)
            self.reply(200 if ok else 503, b"ok" if ok else b"not ready")

        def do_POST(self) -> None:
            review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            stub.reviews.append(review)
            uid = stub.uid_override or review["request"]["uid"]
            answer = {
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {"uid": uid, "allowed": True},
            }
            self.reply(200 if self.path == "/validate" else 404, json.dumps(answer).encode())

    return Handler


@pytest.fixture(scope="module")
def chart_tls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tls")
    for key, value in find(render(), "Secret", "ippool-validator-tls")["data"].items():
        (directory / key).write_bytes(base64.b64decode(value))
    return directory


@pytest.fixture
def stub(chart_tls: Path) -> Iterator[tuple[StubWebhook, int]]:
    state = StubWebhook()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chart_tls / "tls.crt", chart_tls / "tls.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


# Resolves the Service's DNS name to the stub on loopback, then runs the hook's script unchanged.
LAUNCHER = """
import socket, sys
real = socket.getaddrinfo
socket.getaddrinfo = lambda host, *rest, **kw: real("127.0.0.1" if host == sys.argv[1] else host, *rest, **kw)
exec(compile(sys.argv[2], "helm-test-script", "exec"), {"__name__": "__main__"})
"""


def run_hook_script(port: int, ca_file: Path) -> subprocess.CompletedProcess[str]:
    pod = hook_pod(render())
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["python", "-c"]
    script = container["args"][0]
    env = {"WEBHOOK_URL": f"https://{SERVICE_HOST}:{port}", "CA_FILE": str(ca_file), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-c", LAUNCHER, SERVICE_HOST, script],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_hook_script_passes_against_a_healthy_webhook(stub: tuple[StubWebhook, int], chart_tls: Path) -> None:
    state, port = stub
    result = run_hook_script(port, chart_tls / "ca.crt")
    assert result.returncode == 0, result.stderr
    assert "GET /readyz: 200" in result.stdout
    assert result.stdout.strip().endswith("ippool-validator answers admission reviews")
    (review,) = state.reviews
    request = review["request"]
    assert (review["apiVersion"], review["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    assert request["operation"] == "CREATE" and request["dryRun"] is True
    assert request["resource"] == {"group": "crd.projectcalico.org", "version": "v1", "resource": "ippools"}
    assert request["object"]["spec"]["disabled"] is True


def test_hook_script_fails_when_the_webhook_is_not_ready(
    stub: tuple[StubWebhook, int], chart_tls: Path
) -> None:
    state, port = stub
    state.ready = False
    result = run_hook_script(port, chart_tls / "ca.crt")
    assert result.returncode != 0
    assert "HTTP Error 503" in result.stderr
    assert state.reviews == []


def test_hook_script_fails_on_an_answer_to_another_request(
    stub: tuple[StubWebhook, int], chart_tls: Path
) -> None:
    state, port = stub
    state.uid_override = "someone-else"
    result = run_hook_script(port, chart_tls / "ca.crt")
    assert result.returncode == 1
    assert "the answer's uid 'someone-else' is not the request's" in result.stderr


def test_hook_script_refuses_a_server_the_ca_did_not_sign(
    stub: tuple[StubWebhook, int], tmp_path: Path
) -> None:
    state, port = stub
    other_ca = base64.b64decode(find(render({"fullnameOverride": "other"}), "Secret")["data"]["ca.crt"])
    (tmp_path / "other-ca.crt").write_bytes(other_ca)
    result = run_hook_script(port, tmp_path / "other-ca.crt")
    assert result.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr
    assert state.reviews == []
