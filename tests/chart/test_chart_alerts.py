"""The chart's PrometheusRule and Grafana dashboard, checked with the real promtool (`.ci/install-promtool`).

The alert expressions are unit-tested with `promtool test rules` on synthetic series shaped as the exporter
publishes them (docs/metrics.md); the dashboard's queries are parsed by promtool as recording rules, and every
series they name is one that kube-controllers or our exporter publishes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_render import CHART_DIR, REPO_ROOT, find, render

DASHBOARD = CHART_DIR / "dashboards" / "calico-ipam.json"
METRICS_DOC = REPO_ROOT / "docs" / "metrics.md"
# kube-controllers' IPAM series (kube-controllers/pkg/controllers/node/ipam.go; tigera/docs
# calico/reference/kube-controllers/prometheus.mdx).
KUBE_CONTROLLERS = {
    "ipam_allocations_in_use", "ipam_allocations_borrowed", "ipam_blocks", "ipam_allocations_gc_candidates",
    "ipam_allocations_gc_reclamations", "ipam_ippool_size", "ipam_ippool_reserved",
    "ipam_allocations_per_node", "ipam_allocations_borrowed_per_node", "ipam_blocks_per_node",
}
SERIES = re.compile(r"\b((?:ipam|ippool_validator)_[a-z_]+)\b")


def promtool() -> str:
    found = (os.environ.get("PROMTOOL") or shutil.which("promtool")
             or str(REPO_ROOT / ".ci" / "bin" / "promtool"))
    if not (os.access(found, os.X_OK) and Path(found).is_file()):
        pytest.fail("promtool not found: run .ci/install-promtool (the README's test command does) "
                    "or set $PROMTOOL")
    return found


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120, check=False)


def rule_groups(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    objects = render({"prometheusRule": {"enabled": True}, **(values or {})})
    groups: list[dict[str, Any]] = find(objects, "PrometheusRule", exporter=True)["spec"]["groups"]
    return groups


def documented_series() -> set[str]:
    return {m for m in SERIES.findall(METRICS_DOC.read_text()) if m.startswith("ippool_validator_")}


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule_groups()}))
    return path


def test_rendered_rules_pass_promtool_check(rules_file: Path) -> None:
    result = run_promtool("check", "rules", str(rules_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_names_only_documented_series() -> None:
    for group in rule_groups():
        for rule in group["rules"]:
            used = set(SERIES.findall(rule["expr"]))
            assert used, rule["alert"]
            assert used <= documented_series(), (rule["alert"], used - documented_series())


def pool_series(pool: str, allocated: str, free: str, family: str = "4") -> list[dict[str, str]]:
    return [
        {"series": f'ippool_validator_pool_blocks{{pool="{pool}",state="allocated"}}', "values": allocated},
        {"series": f'ippool_validator_pool_blocks{{pool="{pool}",state="free"}}', "values": free},
        {"series": f'ippool_validator_pool_info{{pool="{pool}",ippool="{pool}",cidr="10.0.0.0/16",'
                   f'family="{family}",block_size="26",disabled="false"}}', "values": "1x240"},
    ]


def alert(name: str, severity: str, **labels: str) -> dict[str, Any]:
    return {"exp_labels": {"alertname": name, "severity": severity, **labels}}


def run_unit_tests(tmp_path: Path, groups: list[dict[str, Any]], tests: list[dict[str, Any]]) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": groups}))
    spec = tmp_path / "tests.yaml"
    spec.write_text(yaml.safe_dump({"rule_files": [rules.name], "evaluation_interval": "1m", "tests": tests}))
    result = run_promtool("test", "rules", str(spec))
    assert result.returncode == 0, result.stdout + result.stderr


def test_block_alerts_fire_at_their_thresholds_and_not_below(tmp_path: Path) -> None:
    """Three pools: 70 % (nothing), 85 % (warning after 15 min), 95 % (warning and critical)."""
    series = (pool_series("calm", "700x60", "300x60") + pool_series("busy", "850x60", "150x60")
              + pool_series("full", "950x60", "50x60"))
    tests = [
        {"interval": "1m", "input_series": series, "alert_rule_test": [
            {"eval_time": "10m", "alertname": "CalicoIPPoolBlocksRunningOut", "exp_alerts": []},
            {"eval_time": "20m", "alertname": "CalicoIPPoolBlocksRunningOut", "exp_alerts": [
                alert("CalicoIPPoolBlocksRunningOut", "warning", pool="busy") | {"value": "85%"},
                alert("CalicoIPPoolBlocksRunningOut", "warning", pool="full") | {"value": "95%"}]},
            {"eval_time": "20m", "alertname": "CalicoIPPoolBlocksExhausted", "exp_alerts": [
                alert("CalicoIPPoolBlocksExhausted", "critical", pool="full") | {"value": "95%"}]},
        ]},
    ]
    groups = rule_groups()
    for test in tests:
        for case in test["alert_rule_test"]:
            for expected in case["exp_alerts"]:
                expected["exp_annotations"] = annotations_of(
                    groups, case["alertname"], expected["exp_labels"], value=expected.pop("value"))
    run_unit_tests(tmp_path, groups, tests)


def test_thresholds_follow_the_values(tmp_path: Path) -> None:
    groups = rule_groups({"prometheusRule": {"enabled": True, "blocksWarning": 50}})
    series = pool_series("half", "600x30", "400x30")
    expected = {"exp_labels": {"alertname": "CalicoIPPoolBlocksRunningOut", "severity": "warning",
                               "pool": "half"}}
    expected["exp_annotations"] = annotations_of(
        groups, "CalicoIPPoolBlocksRunningOut", expected["exp_labels"], value="60%")
    run_unit_tests(tmp_path, groups, [{"interval": "1m", "input_series": series, "alert_rule_test": [
        {"eval_time": "20m", "alertname": "CalicoIPPoolBlocksRunningOut", "exp_alerts": [expected]}]}])


def test_forecast_fires_for_a_falling_pool_only(tmp_path: Path) -> None:
    """One pool loses 1 free block a minute (1,000 left: gone within a day); one stays flat."""
    series = (pool_series("draining", "0+1x480", "1000-1x480") + pool_series("steady", "100x480", "900x480"))
    for s in series:
        s["values"] = s["values"].replace("1x240", "1x480")
    groups = rule_groups()
    labels = {"alertname": "CalicoIPPoolBlocksForecastExhausted", "severity": "warning", "pool": "draining",
              "state": "free"}
    run_unit_tests(tmp_path, groups, [{"interval": "1m", "input_series": series, "alert_rule_test": [
        {"eval_time": "7h30m", "alertname": "CalicoIPPoolBlocksForecastExhausted", "exp_alerts": [
            {"exp_labels": labels,
             "exp_annotations": annotations_of(groups, labels["alertname"], labels)}]}]}])


def test_node_headroom_is_judged_per_family(tmp_path: Path) -> None:
    """A dual-stack node with 4 IPv4 pods of headroom alerts even though its IPv6 pool has 100."""
    series = [
        {"series": 'ippool_validator_node_pod_headroom{pool="v4",node="n1"}', "values": "4x30"},
        {"series": 'ippool_validator_node_pod_headroom{pool="v6",node="n1"}', "values": "100x30"},
        {"series": 'ippool_validator_node_pod_headroom{pool="v4",node="n2"}', "values": "50x30"},
        {"series": 'ippool_validator_pool_info{pool="v4",ippool="v4",cidr="10.0.0.0/16",family="4",'
                   'block_size="26",disabled="false"}', "values": "1x30"},
        {"series": 'ippool_validator_pool_info{pool="v6",ippool="v6",cidr="fd00::/48",family="6",'
                   'block_size="122",disabled="false"}', "values": "1x30"},
    ]
    groups = rule_groups()
    labels = {"alertname": "CalicoNodePodHeadroomLow", "severity": "warning", "node": "n1", "family": "4"}
    run_unit_tests(tmp_path, groups, [{"interval": "1m", "input_series": series, "alert_rule_test": [
        {"eval_time": "20m", "alertname": "CalicoNodePodHeadroomLow", "exp_alerts": [
            {"exp_labels": labels, "exp_annotations": annotations_of(groups, labels["alertname"], labels,
                                                                     value="4")}]}]}])


def test_leaks_and_a_stale_audit_alert(tmp_path: Path) -> None:
    series = [
        {"series": 'ippool_validator_ipam_leaks{class="leaked_address"}', "values": "3x120"},
        {"series": 'ippool_validator_ipam_leaks{class="suspect_address"}', "values": "9x120"},
        # the last audit finished at t=0 and none since
        {"series": "ippool_validator_audit_last_success_timestamp_seconds", "values": "0x120"},
    ]
    groups = rule_groups()
    leak = {"alertname": "CalicoIPAMLeakedAddresses", "severity": "warning", "class": "leaked_address"}
    stale = {"alertname": "IPPoolValidatorAuditStale", "severity": "warning"}
    run_unit_tests(tmp_path, groups, [{"interval": "1m", "input_series": series, "alert_rule_test": [
        {"eval_time": "30m", "alertname": "CalicoIPAMLeakedAddresses", "exp_alerts": []},
        {"eval_time": "90m", "alertname": "CalicoIPAMLeakedAddresses", "exp_alerts": [
            {"exp_labels": leak,
             "exp_annotations": annotations_of(groups, leak["alertname"], leak, value="3")}]},
        {"eval_time": "5m", "alertname": "IPPoolValidatorAuditStale", "exp_alerts": []},
        {"eval_time": "20m", "alertname": "IPPoolValidatorAuditStale", "exp_alerts": [
            {"exp_labels": stale, "exp_annotations": annotations_of(groups, stale["alertname"], stale)}]},
    ]}])


def annotations_of(groups: list[dict[str, Any]], name: str, labels: dict[str, str],
                   value: str | None = None) -> dict[str, str]:
    """The alert's annotations as they will read, label and value templates filled in (promtool compares
    them exactly)."""
    rule = next(r for g in groups for r in g["rules"] if r.get("alert") == name)
    out = {}
    for key, text in rule.get("annotations", {}).items():
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
        if "$value" in text:
            assert value is not None, f"{name}'s {key} shows the value: say what it is"
            text = re.sub(r"\{\{ \$value[^}]*\}\}", value, text)
        out[key] = text
    return out


# -- the dashboard ------------------------------------------------------------------------------------------

def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def exprs(panel: dict[str, Any]) -> list[str]:
    return [t["expr"] for t in panel.get("targets", [])]


def test_dashboard_queries_parse_with_promtool(tmp_path: Path) -> None:
    rules = [{"record": f"dashboard:panel{p['id']}:{i}", "expr": e.replace("$ippool", ".*")}
             for p in panels() for i, e in enumerate(exprs(p))]
    assert len(rules) >= 15
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_layout_is_sound() -> None:
    board = dashboard()
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for p in board["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not area & cells, f"panel {p['title']!r} overlaps another"
        cells |= area
    for p in panels():
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        assert p["title"] and p["description"], p["id"]


def test_dashboard_works_on_kube_controllers_alone_and_gains_our_panels() -> None:
    rows = [p for p in dashboard()["panels"] if p["type"] == "row"]
    titles = [r["title"].split(" (")[0] for r in rows]
    assert titles == ["Calico kube-controllers", "ippool-validator exporter"]
    second_row_y = rows[1]["gridPos"]["y"]
    first = [p for p in panels() if p["gridPos"]["y"] < second_row_y]
    later = [p for p in panels() if p["gridPos"]["y"] > second_row_y]
    assert first and later
    for p in first:
        names = {n for e in exprs(p) for n in SERIES.findall(e)}
        assert names and names <= KUBE_CONTROLLERS, (p["title"], names)
    ours = {n for p in later for e in exprs(p) for n in SERIES.findall(e)}
    assert ours <= documented_series() | KUBE_CONTROLLERS
    per_pool = {"ippool_validator_pool_blocks", "ippool_validator_pool_info",
                "ippool_validator_node_pod_headroom", "ippool_validator_nodes", "ippool_validator_ipam_leaks"}
    assert per_pool <= ours


def test_dashboard_configmap_carries_the_file() -> None:
    objects = render({"dashboard": {"enabled": True, "namespace": "monitoring"}})
    configmap = find(objects, "ConfigMap", "ippool-validator-dashboard")
    assert configmap["metadata"]["namespace"] == "monitoring"
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["calico-ipam.json"]) == dashboard()


def test_optional_objects_are_off_by_default(default_objects: list[dict[str, Any]]) -> None:
    assert not {"ServiceMonitor", "PrometheusRule", "ConfigMap"} & {o["kind"] for o in default_objects}
