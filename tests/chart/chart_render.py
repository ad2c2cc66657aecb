"""Render charts/ippool-validator with the real helm binary and read what it would deploy.

Used by the chart tests, and meant for any other test that must agree with the chart: the webhook server's
tests can call `webhook_setup()` to learn the path, ports, serve command and resources the chart wires up,
instead of repeating them. Run as a script, it prints that setup as JSON:

    python tests/chart/chart_render.py [--kube-version 1.29.0]

helm is found through $HELM, then PATH, then .ci/bin/helm (where `.ci/install-helm` puts it).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "ippool-validator"
RELEASE = "ippool-validator"
NAMESPACE = "ippool-validator"
# Lowest and highest Kubernetes versions the chart supports: Chart.yaml's kubeVersion floor, and the newest
# schemas the pinned kubernetes-validate ships.
OLDEST_KUBERNETES = "1.29.0"
NEWEST_KUBERNETES = "1.37.0"

Manifest = dict[str, Any]


class HelmNotFound(RuntimeError):
    """No helm binary: run `.ci/install-helm` or set $HELM."""


class HelmFailed(RuntimeError):
    """helm exited non-zero; the message carries its stderr."""

    def __init__(self, args: Sequence[str], result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(f"helm {' '.join(args)} exited {result.returncode}:\n{result.stderr.strip()}")
        self.stdout = result.stdout
        self.stderr = result.stderr


def find_helm() -> str:
    candidates = [os.environ.get("HELM"), shutil.which("helm"), str(REPO_ROOT / ".ci" / "bin" / "helm")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and Path(candidate).is_file():
            return candidate
    raise HelmNotFound("helm not found: set $HELM, put helm on PATH, or run .ci/install-helm")


def require_helm() -> str:
    """helm's path for a test; without helm the test fails under CI and is skipped elsewhere."""
    import pytest

    try:
        return find_helm()
    except HelmNotFound as missing:
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(f"{missing} (CI is set, so the chart tests may not be skipped)")
        pytest.skip(str(missing))


@functools.lru_cache(maxsize=1)
def _helm_home() -> str:
    """Private helm config, cache and data dirs, so no user repository or plugin changes the result."""
    return tempfile.mkdtemp(prefix="ippool-validator-helm-")


def run_helm(*args: str, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run helm; raises HelmFailed on a non-zero exit. It sees a cluster only through `kubeconfig`."""
    home = _helm_home()
    env = {
        **os.environ,
        "HELM_CONFIG_HOME": f"{home}/config",
        "HELM_CACHE_HOME": f"{home}/cache",
        "HELM_DATA_HOME": f"{home}/data",
        "KUBECONFIG": str(kubeconfig) if kubeconfig else os.devnull,
    }
    result = subprocess.run([find_helm(), *args], capture_output=True, text=True, env=env, timeout=120)
    if result.returncode != 0:
        raise HelmFailed(args, result)
    return result


def _values_args(values: Mapping[str, Any] | None, directory: str) -> list[str]:
    if not values:
        return []
    path = Path(directory) / "values.yaml"
    path.write_text(yaml.safe_dump(dict(values)))
    return ["--values", str(path)]


def _kube_args(kube_version: str | None) -> list[str]:
    return ["--kube-version", kube_version] if kube_version else []


@functools.lru_cache(maxsize=256)
def _template(values_json: str, kube_version: str | None, chart_dir: str) -> str:
    with tempfile.TemporaryDirectory() as directory:
        args = ["template", RELEASE, chart_dir, "--namespace", NAMESPACE]
        args += _values_args(json.loads(values_json), directory) + _kube_args(kube_version)
        return run_helm(*args).stdout


def render(
    values: Mapping[str, Any] | None = None,
    kube_version: str | None = None,
    chart_dir: Path = CHART_DIR,
) -> list[Manifest]:
    """`helm template` the chart (release ippool-validator in namespace ippool-validator) into objects."""
    text = _template(json.dumps(values or {}, sort_keys=True), kube_version, str(chart_dir))
    return [doc for doc in yaml.safe_load_all(text) if doc]


def render_against_cluster(kubeconfig: Path, values: Mapping[str, Any] | None = None) -> list[Manifest]:
    """`helm template --dry-run=server`: like an upgrade, templates may `lookup` objects in that cluster."""
    with tempfile.TemporaryDirectory() as directory:
        args = ["template", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE, "--dry-run=server"]
        args += ["--disable-openapi-validation", *_values_args(values, directory)]
        text = run_helm(*args, kubeconfig=kubeconfig).stdout
    return [doc for doc in yaml.safe_load_all(text) if doc]


def lint(values: Mapping[str, Any] | None = None, kube_version: str | None = None) -> str:
    """`helm lint --strict`; returns its output, raises HelmFailed when it finds a problem."""
    with tempfile.TemporaryDirectory() as directory:
        args = ["lint", "--strict", str(CHART_DIR), "--namespace", NAMESPACE]
        args += _values_args(values, directory) + _kube_args(kube_version)
        return run_helm(*args).stdout


def render_notes(values: Mapping[str, Any] | None = None, kube_version: str | None = None) -> str:
    """NOTES.txt as `helm install` would print it, for any kube version (`helm template` skips NOTES)."""
    with tempfile.TemporaryDirectory() as directory:
        chart_copy = Path(directory) / "chart"
        shutil.copytree(CHART_DIR, chart_copy)
        notes = (chart_copy / "templates" / "NOTES.txt").read_text()
        (chart_copy / "templates" / "NOTES.txt").unlink()
        (chart_copy / "templates" / "_notes_probe.tpl").write_text(
            '{{- define "notes-probe" }}' + notes + "{{- end }}"
        )
        (chart_copy / "templates" / "notes-probe.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes-probe\n"
            'data:\n  notes: {{ include "notes-probe" . | quote }}\n'
        )
        objects = render(values, kube_version, chart_dir=chart_copy)
    return find(objects, "ConfigMap", "notes-probe")["data"]["notes"]


EXPORTER = "exporter"


def is_exporter(manifest: Manifest) -> bool:
    """Whether an object belongs to the IPAM exporter (its own Deployment, Service, account and role)."""
    labels = manifest.get("metadata", {}).get("labels") or {}
    return labels.get("app.kubernetes.io/component") == EXPORTER


def find(objects: Iterable[Manifest], kind: str, name: str | None = None, exporter: bool = False) -> Manifest:
    """The one rendered object of this kind (and name) of the webhook's part of the release, or with
    exporter=True of the exporter's; fails loudly when there is none or several."""
    matches = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
               and is_exporter(o) == exporter]
    if len(matches) != 1:
        found = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects)
        raise LookupError(f"expected one {kind} {name or ''}, found {len(matches)} among {found}")
    return matches[0]


def kinds(objects: Iterable[Manifest]) -> list[str]:
    return sorted(o["kind"] for o in objects)


@dataclass(frozen=True)
class WebhookRule:
    api_group: str
    api_version: str
    resource: str
    operations: tuple[str, ...]
    scope: str


@dataclass(frozen=True)
class Webhook:
    name: str
    path: str
    service_name: str
    service_namespace: str
    service_port: int
    failure_policy: str
    timeout_seconds: int
    rules: tuple[WebhookRule, ...]
    match_conditions: tuple[str, ...]


@dataclass(frozen=True)
class WebhookSetup:
    """What the chart wires together: the API server calls `path` on the Service's `service_port`, which
    forwards to `container_port`; the container runs `command` and should listen on `listen_port`."""

    path: str
    service_port: int
    container_port: int
    listen_port: int
    command: tuple[str, ...]
    webhooks: tuple[Webhook, ...]

    def resources(self) -> set[tuple[str, str, str, str]]:
        """(group, version, resource, operation) for every request the API server may send."""
        return {
            (rule.api_group, rule.api_version, rule.resource, operation)
            for webhook in self.webhooks
            for rule in webhook.rules
            for operation in rule.operations
        }


def _rules_of(webhook: Mapping[str, Any]) -> tuple[WebhookRule, ...]:
    return tuple(
        WebhookRule(group, version, resource, tuple(rule["operations"]), rule.get("scope", "*"))
        for rule in webhook["rules"]
        for group in rule["apiGroups"]
        for version in rule["apiVersions"]
        for resource in rule["resources"]
    )


def _webhook_of(webhook: Mapping[str, Any]) -> Webhook:
    service = webhook["clientConfig"]["service"]
    return Webhook(
        name=webhook["name"],
        path=service["path"],
        service_name=service["name"],
        service_namespace=service["namespace"],
        service_port=service["port"],
        failure_policy=webhook["failurePolicy"],
        timeout_seconds=webhook["timeoutSeconds"],
        rules=_rules_of(webhook),
        match_conditions=tuple(c["expression"] for c in webhook.get("matchConditions", [])),
    )


def _container_port(container: Mapping[str, Any], target_port: int | str) -> int:
    if isinstance(target_port, int):
        return target_port
    return next(p["containerPort"] for p in container["ports"] if p.get("name") == target_port)


def _one(values: set[Any], what: str) -> Any:
    if len(values) != 1:
        raise ValueError(f"the webhooks disagree on {what}: {sorted(values)}")
    return next(iter(values))


def webhook_setup(values: Mapping[str, Any] | None = None, kube_version: str | None = None) -> WebhookSetup:
    """Render the chart and read the webhook configuration, the Service and the serve command together."""
    objects = render(values, kube_version)
    configuration = find(objects, "ValidatingWebhookConfiguration")
    webhooks = tuple(_webhook_of(w) for w in configuration["webhooks"])
    service_name = _one({w.service_name for w in webhooks}, "the Service")
    service_port = _one({w.service_port for w in webhooks}, "the Service port")
    service = find(objects, "Service", service_name)
    port = next(p for p in service["spec"]["ports"] if p["port"] == service_port)
    container = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    command = (*container.get("command", []), *container.get("args", []))
    return WebhookSetup(
        path=_one({w.path for w in webhooks}, "the path"),
        service_port=service_port,
        container_port=_container_port(container, port["targetPort"]),
        listen_port=int(command[command.index("--port") + 1]),
        command=tuple(command),
        webhooks=webhooks,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the webhook setup the chart renders, as JSON.")
    parser.add_argument("--kube-version", default=None)
    parser.add_argument(
        "--set-json",
        action="append",
        default=[],
        metavar="VALUES",
        help="a JSON object of values, merged into the chart's values (repeatable)",
    )
    options = parser.parse_args(argv)
    values: dict[str, Any] = {}
    for overlay in options.set_json:
        values.update(json.loads(overlay))
    setup = webhook_setup(values, options.kube_version)
    json.dump({**asdict(setup), "resources": sorted(setup.resources())}, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
