"""The Flask application in-process, for what a running server cannot be made to do on demand: `--mode warn`,
internal errors answered per `--on-error`, and requests that arrive before the cluster state is synced."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.webhook_support import STATE, pool, review
from validator.config import Config
from validator.webhook import app as app_module
from validator.webhook.app import Settings, create_app
from validator.webhook.metrics import Metrics
from validator.webhook.snapshot import Snapshot
from validator.webhook.state import StaticState

STRANDING_DELETE = review("DELETE", old=pool("rack-2", "10.10.2.0/24", 'rack == "2"'))


class NotSynced:
    """A cluster state that never finishes its first list."""

    def current(self) -> Snapshot | None:
        return None

    def ready(self) -> bool:
        return False

    def last_sync(self) -> float:
        return 0.0

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def subscribe(self, callback: Any) -> None: ...


def client(state: Any = None, **settings: Any) -> tuple[FlaskClient, Metrics]:
    metrics = Metrics()
    app = create_app(state or StaticState(str(STATE)), Config(), Settings(**settings), metrics)
    return app.test_client(), metrics


def answer(test_client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    reply = test_client.post("/validate", json=body)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    response = reply.get_json()["response"]
    assert response["uid"] == body["request"]["uid"]
    return dict(response)


def test_a_node_write_the_server_cannot_judge_is_admitted_even_with_on_error_deny(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("boom")

    monkeypatch.setattr(app_module, "judge", broken)
    test_client, metrics = client(on_error="deny")
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"rack": "1"}}}
    response = answer(test_client, review("UPDATE", node, node))
    assert response["allowed"] is True
    assert "a Node write is never refused for the webhook's own fault" in response["warnings"][0]
    assert metrics.internal_errors._value.get() == 1


def test_warn_mode_allows_and_says_what_would_be_denied() -> None:
    test_client, metrics = client(mode="warn")
    response = answer(test_client, STRANDING_DELETE)
    assert response["allowed"] is True
    assert response["warnings"][0].startswith("would be denied: [node-unselected] Node/worker-2a (rack=2)")
    assert metrics.denials.labels("node-unselected")._value.get() == 0  # nothing was denied


def test_enforce_mode_denies_the_same_request() -> None:
    assert answer(client()[0], STRANDING_DELETE)["allowed"] is False


@pytest.mark.parametrize("on_error", ["deny", "allow"])
def test_an_internal_error_is_answered_per_on_error_logged_and_counted(
        on_error: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr(app_module, "judge", broken)
    test_client, metrics = client(on_error=on_error)
    response = answer(test_client, STRANDING_DELETE)
    assert response["allowed"] is (on_error == "allow")
    if on_error == "deny":
        assert response["status"]["code"] == 500
        assert "could not judge this change" in response["status"]["message"]
        assert "--on-error deny" in response["status"]["message"]
    else:
        assert "--on-error allow" in response["warnings"][0]
    assert metrics.internal_errors._value.get() == 1
    assert "could not judge DELETE IPPool/rack-2" in caplog.text and "KeyError" in caplog.text


def test_before_the_state_is_synced_requests_are_answered_per_on_error_and_readyz_fails() -> None:
    test_client, metrics = client(NotSynced())
    response = answer(test_client, STRANDING_DELETE)
    assert response["allowed"] is False
    assert "not synced" in response["status"]["message"]
    assert test_client.get("/readyz").status_code == 503
    assert test_client.get("/healthz").status_code == 200
    assert b"ippool_validator_ready 0.0" in test_client.get("/metrics").data
    allowing, _ = client(NotSynced(), on_error="allow")
    assert answer(allowing, STRANDING_DELETE)["allowed"] is True


def test_a_smaller_body_limit_is_honoured() -> None:
    test_client, metrics = client(max_body_bytes=2048)
    body = review("CREATE", pool("big", "10.99.0.0/24", description="x" * 4096))
    reply = test_client.post("/validate", json=body)
    assert reply.status_code == 413 and "2,048-byte limit" in reply.get_json()["error"]
    assert metrics.bad_requests.labels("too-large")._value.get() == 1
