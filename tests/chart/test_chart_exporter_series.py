"""The chart and the exporter's code agree: every series the chart's PrometheusRule and Grafana dashboard use,
and every one docs/metrics.md promises, is in the real exporter's output (the `ippool-validator exporter`
subprocess scraped over HTTP, over tests/kubefake.py serving the planted cluster with the IPAM CRDs); and
the rendered exporter arguments are ones the real click command accepts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chart_render
import click
import kubefake as kf
import pytest
from exporter_support import CLUSTER, Running, plant, ready

from validator.cli import main

SERIES = re.compile(r"\b(ippool_validator_[a-z_]+)\b")
DASHBOARD = chart_render.CHART_DIR / "dashboards" / "calico-ipam.json"
METRICS_DOC = chart_render.REPO_ROOT / "docs" / "metrics.md"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """The series names of one scrape of the real exporter, after its first complete audit."""
    with kf.FakeKube(CLUSTER) as fake:
        plant(fake)
        running = Running(fake.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig"))
        try:
            ready(running)
            yield {name for name, _ in running.samples()}
        finally:
            running.stop()


def rule_series() -> set[str]:
    objects = chart_render.render({"prometheusRule": {"enabled": True}})
    rule = chart_render.find(objects, "PrometheusRule", exporter=True)
    return {n for g in rule["spec"]["groups"] for r in g["rules"] for n in SERIES.findall(r["expr"])}


def dashboard_series() -> set[str]:
    board = json.loads(DASHBOARD.read_text())
    return {n for p in board["panels"] for t in p.get("targets", []) for n in SERIES.findall(t["expr"])}


def test_every_series_the_alerts_use_is_published(published: set[str]) -> None:
    used = rule_series()
    assert len(used) >= 5
    assert used <= published, used - published


def test_every_series_the_dashboard_uses_is_published(published: set[str]) -> None:
    used = dashboard_series()
    assert len(used) >= 5
    assert used <= published, used - published


def test_every_documented_series_is_published_and_nothing_else(published: set[str]) -> None:
    documented = set(SERIES.findall(METRICS_DOC.read_text()))
    assert documented == published


def container_of(objects: list[chart_render.Manifest]) -> dict[str, Any]:
    spec = chart_render.find(objects, "Deployment", exporter=True)["spec"]["template"]["spec"]
    container: dict[str, Any] = spec["containers"][0]
    return container


def exporter_args(values: dict[str, object] | None = None) -> list[str]:
    objects = chart_render.render(values)
    container = container_of(objects)
    assert container["command"] == ["ippool-validator"]
    args: list[str] = container["args"]
    assert args[0] == "exporter"
    return args[1:]


@pytest.mark.parametrize("values", [None, {"exporter": {"port": 9123, "interval": 120}},
                                    {"policy": {"config": {"rules": {"pool-overlap": "warning"}}}}],
                         ids=["default", "port-interval", "policy"])
def test_the_rendered_command_is_one_exporter_accepts(values: dict[str, object] | None) -> None:
    """click parses the chart's arguments as `ippool-validator exporter` would, without starting it."""
    args = exporter_args(values)
    with click.Context(main) as parent:
        context = main.commands["exporter"].make_context("exporter", args, parent=parent)
    objects = chart_render.render(values)
    container = container_of(objects)
    assert context.params["port"] == container["ports"][0]["containerPort"]
    assert context.params["host"] == "0.0.0.0"  # the pod network: the Service and the probes reach it
    assert context.params["kubeconfig"] is None  # in-cluster: the exporter's own ServiceAccount
    assert context.params["interval"] == (120 if values and "exporter" in values else 60)
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    config = context.params["config_file"]
    assert (config is not None) == bool(values and "policy" in values)
    if config is not None:
        assert str(Path(config).parent) in mounts


def test_the_readme_lists_every_dashboard_panel() -> None:
    readme = (chart_render.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Exporter\n", 1)[1].split("\n## ", 1)[0]
    board = json.loads(DASHBOARD.read_text())
    titles = [p["title"] for p in board["panels"] if p["type"] != "row"]
    assert len(titles) >= 15
    assert [t for t in titles if t not in section] == []
