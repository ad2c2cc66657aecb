"""Running the real webhook for tests: certificates from `ippool-validator certs`, `ippool-validator serve`
in a subprocess on 127.0.0.1, and an HTTPS client that trusts only the CA it was given."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "webhook"
STATE = FIXTURES / "state"
CLI = [sys.executable, "-m", "validator.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_certs(out: Path, service: str = "ippool-validator", namespace: str = "test") -> str:
    """Run the real `certs` command; returns the base64 CA bundle it prints."""
    done = subprocess.run([*CLI, "certs", "--service", service, "--namespace", namespace, "--out", str(out),
                           "--ip", "127.0.0.1", "--dns", "localhost"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@dataclass
class Server:
    port: int
    ca: Path
    process: subprocess.Popen[str]
    log: Path

    def connection(self, timeout: float = 10.0) -> http.client.HTTPSConnection:
        context = ssl.create_default_context(cafile=str(self.ca))
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=context, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            answer = conn.getresponse()
            return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
        finally:
            conn.close()

    def post_json(self, body: Any, path: str = "/validate") -> tuple[int, Any]:
        status, _, data = self.request("POST", path, json.dumps(body).encode(),
                                       {"Content-Type": "application/json"})
        return status, json.loads(data)

    def review(self, body: Mapping[str, Any]) -> dict[str, Any]:
        status, answer = self.post_json(body)
        assert status == 200, answer
        assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview"
        assert answer["response"]["uid"] == body["request"]["uid"]
        return dict(answer["response"])

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_server(tmp: Path, args: Sequence[str] = ("--state", str(STATE)),
                   env: Mapping[str, str] | None = None, certs: Path | None = None,
                   wait_ready: bool = True) -> Iterator[Server]:
    """`ippool-validator serve` with certificates from `certs`, until the block ends."""
    if certs is None:
        certs = tmp / "certs"
        make_certs(certs)
    port = free_port()
    log = tmp / f"serve-{port}.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [*CLI, "serve", "--tls-cert", str(certs / "tls.crt"), "--tls-key", str(certs / "tls.key"),
             "--host", "127.0.0.1", "--port", str(port), *args],
            stdout=out, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})},
            start_new_session=True)
    server = Server(port, certs / "ca.crt", process, log)
    try:
        wait_until(lambda: _answers(server, "/readyz" if wait_ready else "/healthz"), 30,
                   lambda: f"the server did not start:\n{server.logs()}")
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM, as the kubelet sends it; SIGKILL if the server has not exited within 15 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _answers(server: Server, path: str) -> bool:
    if server.process.poll() is not None:
        raise AssertionError(f"the server exited with {server.process.returncode}:\n{server.logs()}")
    try:
        status, _, _ = server.request("GET", path)
        return status == 200
    except (OSError, http.client.HTTPException):
        return False


def wait_until(predicate: Any, timeout: float, message: Any = "timed out") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(message() if callable(message) else message)


def review(operation: str, obj: Mapping[str, Any] | None = None, old: Mapping[str, Any] | None = None,
           dry_run: bool = False, uid: str | None = None) -> dict[str, Any]:
    """An AdmissionReview v1 request as the API server sends it, for `obj` (or `old` on DELETE)."""
    subject = obj or old
    assert subject is not None
    group, _, version = str(subject["apiVersion"]).rpartition("/")
    kind = subject["kind"]
    plural = {"IPPool": "ippools", "IPReservation": "ipreservations", "Installation": "installations",
              "Node": "nodes"}.get(kind, kind.lower() + "s")
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid or str(uuid.uuid4()),
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": plural},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "name": subject["metadata"]["name"], "operation": operation,
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters"]},
        "object": obj if operation != "DELETE" else None, "oldObject": old,
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": f"{operation.title()}Options"}}}


def pool(name: str, cidr: str, selector: str = "all()", api_version: str = "crd.projectcalico.org/v1",
         **spec: Any) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": "IPPool", "metadata": {"name": name, "uid": f"uid-{name}"},
            "spec": {"cidr": cidr, "nodeSelector": selector, **spec}}


def node(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
            "status": {"allocatable": {"pods": "110"}}}
