"""The chart and the server agree: the rendered ValidatingWebhookConfiguration, Service, probes and container
arguments on one side; the `serve` command's options, the Flask app's routes and `validator.webhook.routes`
(what the decision code judges) on the other."""

from __future__ import annotations

from pathlib import Path

import chart_render
import click
import pytest

from validator.cli import main
from validator.webhook.app import create_app
from validator.webhook.routes import HEALTH_PATH, JUDGED, METRICS_PATH, READY_PATH, VALIDATE_PATH
from validator.webhook.state import StaticState

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def judged_requests() -> set[tuple[str, str, str, str]]:
    return {(group, version, resource, op) for group, version, resource, ops in JUDGED for op in ops}


@pytest.mark.parametrize("kube_version", [None, "1.29.0"], ids=["default", "1.29"])
def test_the_webhook_configuration_sends_exactly_what_the_server_judges(kube_version: str | None) -> None:
    setup = chart_render.webhook_setup(kube_version=kube_version)
    assert setup.path == VALIDATE_PATH
    assert setup.resources() == judged_requests()


@pytest.mark.parametrize("values", [None, {"hostNetwork": False}, {"port": 10999}],
                         ids=["default", "pod-network", "port"])
def test_the_service_reaches_the_port_serve_listens_on(values: dict[str, object] | None) -> None:
    setup = chart_render.webhook_setup(values)
    assert setup.container_port == setup.listen_port
    if values and "port" in values:
        assert setup.listen_port == values["port"]


def test_the_rendered_command_is_one_serve_accepts() -> None:
    """click parses the chart's arguments as `ippool-validator serve` would, without starting a server."""
    command = chart_render.webhook_setup().command
    assert "serve" in command
    args = list(command[command.index("serve") + 1:])
    serve = main.commands["serve"]
    with click.Context(main) as parent:
        context = serve.make_context("serve", args, parent=parent)
    assert context.params["port"] == chart_render.webhook_setup().listen_port
    assert context.params["state"] == "cluster"
    assert context.params["mode"] == "enforce"
    assert context.params["on_error"] == "deny"


def test_the_probes_and_the_webhook_path_are_routes_of_the_app(
        default_objects: list[chart_render.Manifest]) -> None:
    rules = {rule.rule: rule.methods for rule in create_app(StaticState(str(EXAMPLES))).url_map.iter_rules()}
    assert "POST" in rules[VALIDATE_PATH]
    for path in (HEALTH_PATH, READY_PATH, METRICS_PATH):
        assert "GET" in rules[path]
    container = chart_render.find(default_objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == HEALTH_PATH
    assert container["readinessProbe"]["httpGet"]["path"] == READY_PATH
