"""The IPAM exporter's part of the chart: its own Deployment, Service, account and read-only role, kept apart
from the webhook's, so that neither selects the other's pods and the webhook gains no permission."""

from __future__ import annotations

from typing import Any

from chart_render import Manifest, find, is_exporter, render

IPAM = {"ipamblocks", "blockaffinities", "ipamhandles"}


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def pod_labels(deployment: Manifest) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def test_exporter_reads_ipam_and_pods_and_writes_nothing(default_objects: list[Manifest]) -> None:
    role = find(default_objects, "ClusterRole", exporter=True)
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert IPAM | {"pods", "nodes", "ippools", "ipreservations"} <= resources
    assert {v for rule in role["rules"] for v in rule["verbs"]} == {"get", "list"}
    binding = find(default_objects, "ClusterRoleBinding", exporter=True)
    account = find(default_objects, "ServiceAccount", exporter=True)
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["name"] == account["metadata"]["name"]
    deployment = find(default_objects, "Deployment", exporter=True)
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]


def test_the_webhook_gains_no_ipam_or_pod_permission(default_objects: list[Manifest]) -> None:
    role = find(default_objects, "ClusterRole")
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert not (IPAM | {"pods"}) & resources


def test_no_selector_of_one_part_selects_the_other_parts_pods(default_objects: list[Manifest]) -> None:
    webhook = find(default_objects, "Deployment")
    exporter = find(default_objects, "Deployment", exporter=True)
    pdb = find(default_objects, "PodDisruptionBudget")
    selectors = {
        "webhook Service": (find(default_objects, "Service")["spec"]["selector"], webhook),
        "webhook Deployment": (webhook["spec"]["selector"]["matchLabels"], webhook),
        "webhook PDB": (pdb["spec"]["selector"]["matchLabels"], webhook),
        "exporter Service": (find(default_objects, "Service", exporter=True)["spec"]["selector"], exporter),
        "exporter Deployment": (exporter["spec"]["selector"]["matchLabels"], exporter),
    }
    for name, (selector, own) in selectors.items():
        other = exporter if own is webhook else webhook
        assert matches(selector, pod_labels(own)), name
        assert not matches(selector, pod_labels(other)), name


def test_exporter_runs_the_exporter_command_on_its_port() -> None:
    objects = render({"exporter": {"port": 9123, "interval": 120}})
    container = find(objects, "Deployment", exporter=True)["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:5] == ["exporter", "--port", "9123", "--interval", "120"]
    assert container["ports"] == [{"name": "metrics", "containerPort": 9123, "protocol": "TCP"}]
    assert {container["livenessProbe"]["httpGet"]["path"], container["readinessProbe"]["httpGet"]["path"]} \
        == {"/healthz", "/readyz"}
    service = find(objects, "Service", exporter=True)
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"


def test_policy_reaches_the_exporter_too() -> None:
    objects = render({"policy": {"config": {"rules": {"pool-overlap": "warning"}}}})
    args = find(objects, "Deployment", exporter=True)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--config") + 1] == "/etc/ippool-validator/policy/.ippool-validator.yaml"


def test_disabled_exporter_renders_nothing_of_it() -> None:
    values: dict[str, Any] = {"exporter": {"enabled": False, "serviceMonitor": {"enabled": True}}}
    objects = render(values)
    assert not [o for o in objects if is_exporter(o)]
    assert "ServiceMonitor" not in {o["kind"] for o in objects}


def test_service_monitor_scrapes_the_exporter_service() -> None:
    objects = render({"exporter": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}})
    monitor = find(objects, "ServiceMonitor", exporter=True)
    service = find(objects, "Service", exporter=True)
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert matches(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [service["metadata"]["namespace"]]
