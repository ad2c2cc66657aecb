"""The rules the policy file turns on. Their cases are in `tests/fixtures/rules/<rule>/` (each folder's
`policy.yaml` turns the rule on; test_rule_fixtures.py runs them). Here: the rules stay silent without their
policy key, ignore annotations skip them (lint and --show-ignored), and the
ready-made policies under `policies/` load and behave as their comments say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from validator.cli import main
from validator.config import Config, load_config, parse_config
from validator.engine import run
from validator.rules import REGISTRY
from validator.sources.files import load_paths

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
ROOT = Path(__file__).resolve().parents[1]
POLICY_RULES = ["cidr-not-allowed", "cidr-conflicts-reserved", "dual-stack-missing", "selector-label-unknown"]


def cases(prefix: str) -> list[tuple[str, Path]]:
    return [(rule, path) for rule in POLICY_RULES
            for path in sorted((FIXTURES / rule).glob(f"{prefix}-*.yaml"))]


def findings_of(rule: str, path: Path, config: Config) -> list:
    return [f for f in run(load_paths([str(path)]), config).findings if f.rule == rule]


@pytest.mark.parametrize(("rule", "path"), cases("bad"), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_rule_is_silent_without_its_policy_key(rule: str, path: Path) -> None:
    assert findings_of(rule, path, Config()) == []


@pytest.mark.parametrize("rule", POLICY_RULES)
def test_each_rule_is_documented_and_names_its_policy_key(rule: str) -> None:
    registered = REGISTRY[rule]
    assert registered.needs_config in json.loads((ROOT / "policies/schemas/config.schema.json").read_text())[
        "properties"]
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert section in registered.doc
    result = CliRunner().invoke(main, ["rules", rule])
    assert result.exit_code == 0 and registered.needs_config in result.output


def test_cidr_not_allowed_names_the_missing_family() -> None:
    config = parse_config("allowed-cidrs: [10.244.0.0/16]\n")
    path = FIXTURES / "cidr-not-allowed" / "good-ipv6-inside.yaml"
    [finding] = findings_of("cidr-not-allowed", path, config)
    assert "allowed-cidrs has no IPv6 range" in finding.message


def test_cidr_not_allowed_says_when_only_part_is_allowed() -> None:
    config = load_config(FIXTURES / "cidr-not-allowed" / "policy.yaml")
    path = FIXTURES / "cidr-not-allowed" / "bad-wider-than-allowed.yaml"
    [finding] = findings_of("cidr-not-allowed", path, config)
    assert "only part of it (10.244.0.0/16)" in finding.message


def test_cidr_conflicts_reserved_quotes_the_reason_and_the_shared_range() -> None:
    config = load_config(FIXTURES / "cidr-conflicts-reserved" / "policy.yaml")
    path = FIXTURES / "cidr-conflicts-reserved" / "bad-contains-docker-bridge.yaml"
    [finding] = findings_of("cidr-conflicts-reserved", path, config)
    assert "contains reserved range 172.17.0.0/16 (docker0 bridge)" in finding.message


def test_cidr_conflicts_reserved_reports_each_reserved_range_a_pool_meets(tmp_path: Path) -> None:
    config = parse_config("reserved-cidrs:\n- {cidr: 10.96.0.0/16, reason: services}\n"
                          "- {cidr: 10.97.0.0/16, reason: nodes}\n- {cidr: 10.98.0.0/16, reason: vpn}\n")
    pool = tmp_path / "pool.yaml"
    pool.write_text("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: wide}\n"
                    "spec: {cidr: 10.96.0.0/15}\n")
    found = findings_of("cidr-conflicts-reserved", pool, config)
    assert sorted(f.subject for f in found) == ["10.96.0.0/16", "10.97.0.0/16"]


def test_dual_stack_missing_reports_each_node() -> None:
    config = load_config(FIXTURES / "dual-stack-missing" / "policy.yaml")
    found = findings_of("dual-stack-missing", FIXTURES / "dual-stack-missing" / "bad-ipv4-only.yaml", config)
    assert sorted(f.resource.name for f in found) == ["worker-1", "worker-2"]
    assert all("no IPv6 address" in f.message for f in found)


def test_dual_stack_missing_without_nodes_points_at_the_policy_line(tmp_path: Path) -> None:
    policy = tmp_path / ".ippool-validator.yaml"
    policy.write_text("max-pods: 110\nrequire-dual-stack: true\n")
    pool = tmp_path / "pool.yaml"
    pool.write_text("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: v4}\n"
                    "spec: {cidr: 10.244.0.0/16}\n")
    [finding] = findings_of("dual-stack-missing", pool, load_config(policy))
    assert finding.source is not None and finding.source.line == 2
    assert finding.source.file.endswith(".ippool-validator.yaml") and "IPv6" in finding.message


def test_dual_stack_missing_is_silent_when_false() -> None:
    config = parse_config("require-dual-stack: false\n")
    path = FIXTURES / "dual-stack-missing" / "bad-ipv4-only.yaml"
    assert findings_of("dual-stack-missing", path, config) == []


def test_selector_label_unknown_suggests_the_close_key() -> None:
    config = load_config(FIXTURES / "selector-label-unknown" / "policy.yaml")
    path = FIXTURES / "selector-label-unknown" / "bad-typo.yaml"
    [finding] = findings_of("selector-label-unknown", path, config)
    assert "'topology.kubernetes.io/zones'" in finding.message
    assert "did you mean 'topology.kubernetes.io/zone'" in finding.hint


def test_empty_topology_labels_allow_no_key_at_all() -> None:
    config = parse_config("topology-labels: []\n")
    path = FIXTURES / "selector-label-unknown" / "good-zone.yaml"
    assert len(findings_of("selector-label-unknown", path, config)) == 1
    everywhere = FIXTURES / "selector-label-unknown" / "good-all.yaml"
    assert findings_of("selector-label-unknown", everywhere, config) == []


# Exemptions: the ignore annotation skips a policy rule as it skips any other, and --show-ignored lists it.

EXEMPT_POOL = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: legacy
  annotations:
    ippool-validator.io/ignore: "cidr-not-allowed, selector-label-unknown"
    ippool-validator.io/ignore-reason: migrating off the old range in Q3
spec:
  cidr: 192.168.0.0/16
  nodeSelector: kubernetes.io/hostname == "old-1"
"""


def test_ignore_annotation_skips_policy_rules_and_show_ignored_lists_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".ippool-validator.yaml").write_text(
        "allowed-cidrs: [10.0.0.0/8]\ntopology-labels: [rack]\n"
        "reserved-cidrs: [{cidr: 192.168.0.0/24, reason: office LAN}]\n")
    (tmp_path / "pool.yaml").write_text(EXEMPT_POOL)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    plain = runner.invoke(main, ["lint"])
    shown = runner.invoke(main, ["lint", "--show-ignored"])
    as_json = runner.invoke(main, ["lint", "--show-ignored", "--format", "json"])
    assert plain.exit_code == 1  # cidr-conflicts-reserved is not exempted
    assert "cidr-conflicts-reserved" in plain.output and "cidr-not-allowed" not in plain.output
    assert "2 ignored by annotation" in plain.output
    ignored = [line for line in shown.output.splitlines() if ": ignored " in line]
    assert len(ignored) == 2 and all("migrating off the old range in Q3" in line for line in ignored)
    doc = json.loads(as_json.output)
    assert sorted(i["rule"] for i in doc["ignored"]) == ["cidr-not-allowed", "selector-label-unknown"]


def test_ignore_all_exempts_every_rule_of_the_object(tmp_path: Path) -> None:
    pool = tmp_path / "pool.yaml"
    pool.write_text(EXEMPT_POOL.replace('"cidr-not-allowed, selector-label-unknown"', "all"))
    config = parse_config("allowed-cidrs: [10.0.0.0/8]\n"
                          "reserved-cidrs: [{cidr: 192.168.0.0/24, reason: LAN}]\n")
    result = run(load_paths([str(pool)]), config)
    assert [f.rule for f in result.findings if f.rule in POLICY_RULES] == []
    assert {f.rule for f, _ in result.ignored} == {"cidr-not-allowed", "cidr-conflicts-reserved"}


# The ready-made policies: each loads, and behaves as its comments say on one repository.

REPOSITORY = FIXTURES.parent / "policies"


def lint_with(policy: str, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["lint", "--config", str(ROOT / "policies" / policy), *extra,
                                       str(REPOSITORY)])
    return result.exit_code, result.output


@pytest.mark.parametrize("policy", sorted(p.name for p in (ROOT / "policies").glob("*.yaml")))
def test_ready_made_policy_loads(policy: str) -> None:
    config = load_config(ROOT / "policies" / policy)
    assert config.source.endswith(policy)


def test_example_policy_documents_every_key() -> None:
    schema = json.loads((ROOT / "policies/schemas/config.schema.json").read_text())
    config = load_config(ROOT / "policies" / "example.ippool-validator.yaml")
    assert set(config.lines) == set(schema["properties"])


def test_strict_policy_fails_on_advice_and_address_plan() -> None:
    code, output = lint_with("strict.yaml")
    assert code == 1
    assert "error fallback-missing" in output  # a warning by default, an error here
    assert "error cidr-not-allowed" in output and "100.64.0.0/16" in output
    assert "error cidr-conflicts-reserved" in output and "Kubernetes service CIDR" in output
    assert "error selector-label-unknown" in output and "'kubernetes.io/hostname'" in output


def test_permissive_policy_fails_only_on_what_breaks_pod_networking() -> None:
    code, output = lint_with("permissive.yaml")
    assert code == 1
    assert [line.split(": ")[1] for line in output.splitlines() if ": error " in line] == [
        "error cidr-conflicts-reserved"]
    for quiet in ("fallback-missing", "cidr-not-allowed", "selector-label-unknown"):
        assert quiet not in output


def test_permissive_policy_passes_once_the_service_cidr_is_clear(tmp_path: Path) -> None:
    for source in REPOSITORY.glob("*.yaml"):
        (tmp_path / source.name).write_text(source.read_text().replace("10.96.0.0/16", "10.112.0.0/16"))
    runner = CliRunner()
    result = runner.invoke(main, ["lint", "--config", str(ROOT / "policies/permissive.yaml"), str(tmp_path)])
    assert result.exit_code == 0, result.output
    strict = runner.invoke(main, ["lint", "--config", str(ROOT / "policies/strict.yaml"), str(tmp_path)])
    assert strict.exit_code == 1
