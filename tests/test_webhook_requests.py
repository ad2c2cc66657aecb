"""Bad requests, probes and metrics, over real HTTPS against `ippool-validator serve`.

A request that is not a well-formed AdmissionReview must get a clear 4xx with a JSON body (never a 200 that
allows), and must not take the worker down: the same process keeps answering afterwards.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.webhook_support import CLI, STATE, Server, node, pool, review, running_server, wait_until


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("requests")) as running:
        yield running


def post(server: Server, body: bytes,
         content_type: str = "application/json") -> tuple[int, dict[str, object]]:
    status, headers, data = server.request("POST", "/validate", body, {"Content-Type": content_type})
    assert headers["content-type"].startswith("application/json")
    return status, json.loads(data)


def good() -> dict[str, object]:
    return review("CREATE", pool("fine", "10.99.0.0/24", 'rack == "1"'))


def with_object(**changes: object) -> bytes:
    body = good()
    request: dict[str, object] = body["request"]  # type: ignore[assignment]
    obj = {**request["object"], **changes}  # type: ignore[dict-item]
    body["request"] = {**request, "object": {k: v for k, v in obj.items() if v is not None}}
    return json.dumps(body).encode()


def mismatched_update() -> bytes:
    new = pool("x", "10.98.0.0/24")
    return json.dumps(review("UPDATE", new, {**new, "apiVersion": "projectcalico.org/v3"})).encode()


def with_request(**changes: object) -> bytes:
    body = good()
    body["request"] = {**body["request"], **changes}  # type: ignore[dict-item]
    return json.dumps(body).encode()


@pytest.mark.parametrize(("body", "status", "says"), [
    (b'{"apiVersion": "admission.k8s.io/v1", "kind": ', 400, "not valid JSON"),
    (b"\xff\xfe\x00not utf-8", 400, "not UTF-8 JSON"),
    (b"[1, 2, 3]", 400, "must be a JSON object"),
    (json.dumps({**good(), "apiVersion": "admission.k8s.io/v1beta1"}).encode(), 400,
     "apiVersion must be admission.k8s.io/v1, not 'admission.k8s.io/v1beta1'"),
    (json.dumps({**good(), "kind": "AdmissionResponse"}).encode(), 400, "kind must be AdmissionReview"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(), 400,
     "request is missing"),
    (with_request(uid=None), 400, "request.uid is missing"),
    (with_request(uid=""), 400, "request.uid is missing"),
    (with_request(operation="PATCH"), 400, "request.operation must be one of"),
    (with_request(kind="IPPool"), 400, "request.kind must be an object"),
    (with_request(object=None), 400, "request.object is missing for CREATE"),
    (with_request(object=[1]), 400, "request.object must be an object or null"),
    (json.dumps(review("UPDATE", pool("x", "10.98.0.0/24"), pool("x", "10.98.0.0/24"))["request"]).encode(),
     400, "apiVersion must be"),
    (json.dumps(good()).replace('"operation": "CREATE"', '"operation": "CREATE", "operation": "DELETE"')
     .encode(), 400, "the key 'operation' twice"),
    (json.dumps(good()).replace('"cidr": "10.99.0.0/24"', '"cidr": "10.99.0.0/24", "cidr": "10.10.1.0/24"')
     .encode(), 400, "the key 'cidr' twice"),
    (json.dumps(good()).replace('"cidr"', '"blockSize": ' + "9" * 4301 + ', "cidr"')
     .encode(), 400, "an integer of 4,301 digits"),
    (json.dumps({**good(), "x": int("9" * 4000)}).encode().replace(b"9" * 4000, b"9" * 5000), 400,
     "an integer of 5,000 digits"),
    (with_object(apiVersion=None), 400, "request.object says apiVersion None"),
    (with_object(apiVersion="projectcalico.org/v3"), 400, "request.kind says 'crd.projectcalico.org/v1'"),
    (with_object(apiVersion="example.com/v1"), 400, "request.object says apiVersion 'example.com/v1'"),
    (with_object(kind="IPReservation"), 400, "kind 'IPReservation'"),
    (mismatched_update(), 400, "request.oldObject says apiVersion 'projectcalico.org/v3'"),
], ids=["truncated", "not-utf8", "array", "v1beta1", "wrong-kind", "no-request", "no-uid", "empty-uid",
        "bad-operation", "kind-not-object", "create-without-object", "object-not-object", "bare-request",
        "duplicate-request-key", "duplicate-object-key", "long-integer-in-object", "long-integer-anywhere",
        "object-without-apiversion", "object-of-the-other-calico-group", "object-of-another-group",
        "object-of-another-kind", "old-object-of-another-group"])
def test_a_malformed_review_gets_a_400_that_says_why(server: Server, body: bytes, status: int,
                                                     says: str) -> None:
    answered, error = post(server, body)
    assert answered == status
    assert says in str(error["error"]) and error["status"] == status


def test_an_update_without_its_old_object_is_refused(server: Server) -> None:
    body = review("UPDATE", pool("x", "10.98.0.0/24"), pool("x", "10.98.0.0/24"))
    body["request"]["oldObject"] = None
    expected = {"error": "request.oldObject is missing for UPDATE", "status": 400}
    assert post(server, json.dumps(body).encode()) == (400, expected)


def test_a_body_over_the_limit_gets_a_413(server: Server) -> None:
    body = good()
    body["request"]["object"]["metadata"]["annotations"] = {"padding": "x" * (3 * 1024 * 1024)}  # type: ignore
    status, error = post(server, json.dumps(body).encode())
    assert status == 413
    assert "3,145,728-byte limit" in str(error["error"])


def test_a_wrong_content_type_gets_a_415(server: Server) -> None:
    status, error = post(server, json.dumps(good()).encode(), "application/x-www-form-urlencoded")
    assert status == 415 and "Content-Type must be application/json" in str(error["error"])
    status, _ = post(server, json.dumps(good()).encode(), "text/plain")
    assert status == 415


def test_wrong_methods_and_paths_get_json_errors(server: Server) -> None:
    status, headers, data = server.request("GET", "/validate")
    assert status == 405 and json.loads(data)["status"] == 405
    status, headers, data = server.request("POST", "/nowhere", b"{}", {"Content-Type": "application/json"})
    assert status == 404 and headers["content-type"] == "application/json"


def test_bad_requests_do_not_take_the_worker_down(server: Server) -> None:
    for body in (b"{", b"[]", b"\x00" * 100, with_request(uid=None)):
        assert post(server, body)[0] == 400
    assert server.process.poll() is None
    assert server.review(good())["allowed"] is True
    assert "Worker exiting" not in server.logs() and "Traceback" not in server.logs()


def test_probes(server: Server) -> None:
    status, _, data = server.request("GET", "/healthz")
    assert (status, json.loads(data)) == (200, {"status": "ok"})
    status, _, data = server.request("GET", "/readyz")
    assert (status, json.loads(data)) == (200, {"status": "ready"})


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_:]+)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    return 0.0


def test_metrics_count_requests_denials_latency_and_state(server: Server) -> None:
    def scrape() -> str:
        status, headers, data = server.request("GET", "/metrics")
        assert status == 200 and headers["content-type"].startswith("text/plain")
        return data.decode()

    before = scrape()
    server.review(review("DELETE", old=pool("rack-2", "10.10.2.0/24", 'rack == "2"')))
    server.review(review("UPDATE", node("worker-1a", rack="2"), node("worker-1a", rack="1")))
    server.review(review("CREATE", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}))
    post(server, b"{")
    after = scrape()

    def grew(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert grew("ippool_validator_admission_requests_total", operation="DELETE", kind="IPPool",
                decision="deny") == 1
    requests = "ippool_validator_admission_requests_total"
    assert grew(requests, operation="UPDATE", kind="Node", decision="allow") == 1
    assert grew(requests, operation="CREATE", kind="other", decision="skip") == 1
    assert grew("ippool_validator_admission_denials_total", rule="node-unselected") == 1
    assert grew("ippool_validator_bad_requests_total", reason="malformed-json") == 1
    assert grew("ippool_validator_admission_duration_seconds_count") == 4
    assert metric(after, "ippool_validator_admission_duration_seconds_bucket", le="+Inf") >= 4
    assert metric(after, "ippool_validator_state_objects", kind="pools") == 3
    assert metric(after, "ippool_validator_state_objects", kind="nodes") == 4
    assert metric(after, "ippool_validator_state_last_sync_timestamp_seconds") > 1.6e9
    assert metric(after, "ippool_validator_ready") == 1
    assert "ippool_validator_internal_errors_total 0.0" in after


def test_serve_takes_the_policy_file_and_warn_mode(tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("policy")
    policy = tmp / "policy.yaml"
    policy.write_text("rules:\n  pool-overlap: warning\nallowed-cidrs: [10.0.0.0/8]\n")
    with running_server(tmp, ("--state", str(STATE), "--config", str(policy), "--mode", "warn")) as warned:
        overlap = warned.review(review("CREATE", pool("bis", "10.10.1.0/25", 'rack == "1"')))
        assert overlap["allowed"] is True
        assert any(w.startswith("[pool-overlap] IPPool/bis") for w in overlap["warnings"])  # a warning now
        outside = warned.review(review("CREATE", pool("far", "192.168.7.0/24", 'rack == "1"')))
        assert outside["allowed"] is True  # warn mode: what enforce mode would deny comes back as warnings
        assert outside["warnings"][0].startswith("would be denied: [cidr-not-allowed] IPPool/far")


def test_a_broken_policy_file_stops_serve_with_a_usage_error(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  pool-overlap: loud\n")
    done = subprocess.run([*CLI, "serve", "--tls-cert", "x", "--tls-key", "y", "--config", str(policy)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "policy.yaml:2" in done.stderr


def test_several_workers_count_in_one_metrics_view(tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("workers")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics")}
    (tmp / "metrics").mkdir()
    with running_server(tmp, ("--state", str(STATE), "--workers", "2"), env=env) as server:
        # the first worker's answer made the server ready; on a loaded machine the second may still be booting
        wait_until(lambda: server.logs().count("Booting worker") == 2, 30,
                   lambda: f"the second worker did not boot:\n{server.logs()}")
        for _ in range(6):  # a new connection each time, so both workers get some
            server.review(review("DELETE", old=pool("rack-2", "10.10.2.0/24", 'rack == "2"')))
        _, _, data = server.request("GET", "/metrics")
        text = data.decode()
        assert metric(text, "ippool_validator_admission_requests_total", operation="DELETE", kind="IPPool",
                      decision="deny") == 6

        def ready() -> float:  # the least of the live workers': 0 while the second one still reads its state
            return metric(server.request("GET", "/metrics")[2].decode(), "ippool_validator_ready")

        wait_until(lambda: ready() == 1, 30, lambda: f"a worker never became ready:\n{server.logs()}")
        assert server.logs().count("Booting worker") == 2
