"""The audit rules over generated dumps with planted facts (tests/ipam_support.py PLANTED): every planted
fact is found, nothing else is, and the policy's grace period, threshold and levels are applied."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import ipam_support as s
import pytest

from validator.audit.core import audit
from validator.audit.dumps import read_dumps
from validator.audit.model import AuditPolicy, parse_duration, policy_from
from validator.config import parse_config
from validator.model import Finding
from validator.rules import REGISTRY

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
AUDIT_RULES = sorted(r.id for r in REGISTRY.values() if r.target == "audit")


def _key(f: Finding) -> tuple[str, str]:
    name = f.resource.name if f.resource else ""
    return (f.rule, f.subject if f.rule in ("address-leaked", "handle-missing") else name)


def _audit(folder: Path, policy: AuditPolicy | None = None, now: datetime = NOW):  # type: ignore[no-untyped-def]
    return audit(read_dumps([str(folder)], now), now, policy)


@pytest.mark.parametrize("api_version", [s.V1, s.V3])
def test_every_planted_fact_is_found_and_nothing_else(tmp_path: Path, api_version: str) -> None:
    result = _audit(s.write_planted(tmp_path, NOW, api_version))
    found = sorted(_key(f) for f in result.findings)
    handle_names = {"k8s-pod-network.orphan": "k8s-pod-network.orphan"}
    expected = sorted((rule, handle_names.get(subject, subject)) for rule, subject in s.PLANTED.values())
    assert found == expected
    assert not result.skipped_rules and result.errors == 1  # handle-missing is the one error


def test_leak_within_grace_is_a_candidate_not_a_finding(tmp_path: Path) -> None:
    result = _audit(s.write_planted(tmp_path, NOW))
    assert s.LEAK_WITHIN_GRACE not in {f.subject for f in result.findings}
    assert result.summary["problemsByClass"] == {
        "leaked_address": 2,
        "suspect_address": 1,
        "orphaned_handle": 1,
        "missing_handle": 1,
        "stale_affinity": 1,
        "invalid_block": 0,
    }
    assert result.summary["leaks"] == {
        "candidate": {"pod-gone": 1},
        "confirmed": {"pod-gone": 1, "tunnel-node-gone": 1},
    }
    later = _audit(tmp_path, now=NOW + timedelta(minutes=11))  # 16 minutes old: past the 15 min grace
    assert s.LEAK_WITHIN_GRACE in {f.subject for f in later.findings}
    longer = _audit(tmp_path, AuditPolicy(leak_grace=parse_duration("3h")))
    assert {f.subject for f in longer.findings if f.rule == "address-leaked"} == {"fd00:10::40"}  # node gone


def test_ipv6_tunnel_of_an_existing_node_is_valid(tmp_path: Path) -> None:
    result = _audit(s.write_planted(tmp_path, NOW))
    assert "fd00:10::" not in {f.subject for f in result.findings}  # n1's vxlanV6TunnelAddress


def test_threshold_levels_and_exemptions_come_from_the_policy(tmp_path: Path) -> None:
    s.write_planted(tmp_path, NOW)
    config = parse_config(
        "rules: {dual-stack-mismatch: 'off', handle-orphaned: error}\n"
        "audit: {pool-free-blocks-threshold: 50, leak-grace-period: 1h30m}\n"
    )
    policy = policy_from(config)
    assert policy.leak_grace == timedelta(hours=1, minutes=30)
    result = _audit(tmp_path, policy)
    rules = [(f.rule, f.resource.name if f.resource else "", f.severity) for f in result.findings]
    assert ("pool-blocks-low", "rack-1-ippool", "warning") in rules  # 2 of 4 blocks: 50%
    assert ("handle-orphaned", "k8s-pod-network.orphan", "error") in rules
    assert not any(r == "dual-stack-mismatch" for r, _, _ in rules)
    nodes = s.planted(NOW)["nodes"]
    nodes[0]["metadata"]["annotations"] = {
        "ippool-validator.io/ignore": "node-headroom",
        "ippool-validator.io/ignore-reason": "draining",
    }
    s.write(tmp_path / "nodes.json", nodes)
    result = _audit(tmp_path)
    assert [(f.rule, reason) for f, reason in result.ignored] == [("node-headroom", "draining")]


def test_rules_without_their_input_are_skipped_and_say_so(tmp_path: Path) -> None:
    s.write_planted(tmp_path, NOW)
    (tmp_path / "pods.json").unlink()
    (tmp_path / "handles.json").unlink()
    result = _audit(tmp_path)
    assert sorted(result.skipped_rules) == [
        "address-leaked",
        "dual-stack-mismatch",
        "handle-missing",
        "handle-orphaned",
    ]
    assert result.summary["handles"] is None
    (tmp_path / "nodes.json").unlink()
    result = _audit(tmp_path)
    assert {"affinity-stale", "node-headroom", "borrowing-cross-topology"} <= set(result.skipped_rules)
    assert [f.rule for f in result.findings] == ["pool-blocks-low"]


def test_invalid_block_is_an_error_with_each_problem(tmp_path: Path) -> None:
    b = s.block("10.0.1.128/30", {0: s.Owner("h", "n1")}, "n1")
    b["spec"]["unallocated"] = [0, 1, 2, 3]
    b["spec"]["attributes"][0]["releasedAt"] = "2027-01-01T00:00:00Z"
    s.write(tmp_path / "blocks.json", [b])
    result = _audit(tmp_path)
    invalid = [f for f in result.findings if f.rule == "block-invalid"]
    assert len(invalid) == 1 and invalid[0].severity == "error"
    assert "both allocated" in invalid[0].message and "future" in invalid[0].message


def test_evicted_moved_renumbered_leak_but_multus_vms_windows_unreported_do_not(tmp_path: Path) -> None:
    old = NOW - timedelta(hours=1)
    owners = {i: s.pod_owner("ns", f"p{i}", "n1", old) for i in range(1, 7)}
    owners[7] = s.pod_owner("ns", "virt-launcher-vm1-abcde", "n1", old, handle="k8s-pod-network.vmi.ns.vm1")
    owners[8] = s.Owner("windows-reserved-ipam-handle", "n1")
    pods = [
        s.pod("ns", "p1", "n1", ["10.0.1.1"], phase="Failed"),
        s.pod("ns", "p2", "n2", ["10.0.1.2"]),
        s.pod("ns", "p3", "n1", ["10.0.1.99"]),
        s.pod("ns", "p4", "n1", ["10.0.1.99"]),
        s.pod("ns", "p5", "n1", []),
        s.pod("ns", "p6", "n1", ["10.0.1.6"]),
    ]
    pods[0]["status"]["reason"] = "Evicted"
    pods[3]["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"] = (
        '[{"name": "k8s-pod-network", "ips": ["10.0.1.4"]}]'
    )
    s.write(
        tmp_path / "d.json",
        [
            s.ippool("p", "10.0.1.0/24", "all()", 26),
            s.node("n1", {}),
            s.node("n2", {}),
            s.block("10.0.1.0/26", owners, "n1"),
            *pods,
        ],
    )
    leaks = {f.subject for f in _audit(tmp_path).findings if f.rule == "address-leaked"}
    assert leaks == {"10.0.1.1", "10.0.1.2", "10.0.1.3"}


def test_a_handle_with_one_valid_address_is_not_released(tmp_path: Path) -> None:
    """GC releases a handle all or none (kube-controllers#901): the v6 address of a pod Kubernetes shows
    as IPv4 only is no leak, but a dual-stack mismatch."""
    result = _audit(s.write_planted(tmp_path, NOW))
    assert "fd00:10::1" not in {f.subject for f in result.findings}
    assert [f.resource.name for f in result.findings if f.rule == "dual-stack-mismatch" and f.resource] == [
        "default/dual"
    ]


def test_every_audit_rule_has_a_calico_note_and_a_ruff_shaped_doc() -> None:
    assert len(AUDIT_RULES) == 9
    for rule_id in AUDIT_RULES:
        rule = REGISTRY[rule_id]
        assert rule.calico and ".go" in rule.calico
        for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
            assert heading in rule.doc, (rule_id, heading)


def test_lint_never_runs_audit_rules(tmp_path: Path) -> None:
    from validator.config import Config
    from validator.engine import enabled_rules

    assert not {r.id for r in enabled_rules(Config())} & set(AUDIT_RULES)


def test_a_deleted_nodes_tunnel_is_kept_while_a_valid_address_names_the_node(tmp_path: Path) -> None:
    """kube-controllers releases a deleted node's tunnel addresses only once none of its pods' addresses is
    valid (checkAllocations' canDelete): a pod stuck on the deleted node keeps the tunnel."""
    old = NOW - timedelta(hours=2)
    owners = {
        0: s.tunnel_owner("vxlanTunnelAddress", "n-gone", old),
        1: s.pod_owner("ns", "stuck", "n-gone", old),
    }
    items = [s.node("n1", {}), s.block("10.0.1.0/26", owners), s.pod("ns", "stuck", "n-gone", ["10.0.1.1"])]
    s.write(tmp_path / "d.json", items)
    assert not [f for f in _audit(tmp_path).findings if f.rule == "address-leaked"]
    items[2] = s.pod("ns", "other", "n1", ["10.0.9.9"])  # the stuck pod is gone: both addresses leak
    s.write(tmp_path / "d.json", items)
    leaks = {f.subject for f in _audit(tmp_path).findings if f.rule == "address-leaked"}
    assert leaks == {"10.0.1.0", "10.0.1.1"}
