"""The engine: order, levels, exemptions, skipped node rules, focus; overlap detection against brute force."""

from __future__ import annotations

import ipaddress
import itertools
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from lint_support import lint_paths

from validator.addresses import AddressIndex
from validator.config import Config
from validator.engine import run
from validator.model import Cluster, Pool, Resource, Source
from validator.rules import REGISTRY
from validator.rules.base import Focus
from validator.sources.files import load_paths

NODE_RULES = {"node-unselected", "pool-selects-nothing", "pool-capacity"}


def pool_doc(name: str, cidr: str, selector: str = "all()", annotations: str = "") -> str:
    meta = f"{{name: {name}{', annotations: {' + annotations + '}' if annotations else ''}}}"
    return (f"apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {meta}\n"
            f"spec: {{cidr: '{cidr}', nodeSelector: '{selector}'}}\n")


def node_doc(name: str, labels: str = "") -> str:
    return f"apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{{labels}}}}}\n"


def write_docs(path: Path, *docs: str) -> Path:
    path.write_text("---\n".join(docs), encoding="utf-8")
    return path


def test_findings_are_sorted_by_file_line_and_rule(tmp_path: Path) -> None:
    write_docs(tmp_path / "b.yaml", pool_doc("wide", "10.0.0.0/8"), pool_doc("host-bits", "10.200.0.1/16"))
    write_docs(tmp_path / "a.yaml", pool_doc("narrow", "10.1.0.0/16", 'rack == "1"'),
               pool_doc("loop", "127.0.0.0/16"))
    write_docs(tmp_path / "c.yaml", node_doc("n1", "rack: '9'"))
    findings = lint_paths(tmp_path).result.findings
    keys = [(Path(f.source.file).name, f.source.line, f.rule) for f in findings]
    assert keys == sorted(keys)
    assert [k for k in keys if k[2] in ("pool-overlap", "cidr-invalid", "cidr-reserved")] == [
        ("a.yaml", 1, "pool-overlap"), ("a.yaml", 9, "cidr-reserved"), ("b.yaml", 9, "cidr-invalid")]


def test_every_finding_is_complete(tmp_path: Path) -> None:
    write_docs(tmp_path / "pools.yaml", pool_doc("wide", "10.0.0.0/8", 'rack == "1"'),
               pool_doc("narrow", "10.1.0.0/30", 'rack == "2"'), pool_doc("bad", "10.300.0.0/16"),
               pool_doc("dup", "172.16.0.0/16", "rack = 1"), pool_doc("dup", "172.17.0.0/16", 'rack == "7"'))
    write_docs(tmp_path / "nodes.yaml", node_doc("n1", "rack: '1'"), node_doc("n2", "rack: '3'"))
    (tmp_path / "broken.yaml").write_text("kind: IPPool\na: [\n")  # ours: a located error
    result = lint_paths(tmp_path).result
    assert {f.rule for f in result.findings} >= {
        "pool-overlap", "pool-smaller-than-block", "cidr-invalid", "selector-invalid", "pool-name-duplicate",
        "node-unselected", "pool-selects-nothing", "fallback-missing", "yaml-invalid"}
    for finding in result.findings:
        rule = REGISTRY[finding.rule]
        assert finding.severity == rule.severity
        assert finding.message
        assert finding.source is not None and finding.source.line >= 1 and finding.source.file
        if finding.rule not in ("yaml-invalid", "fallback-missing"):
            assert finding.resource is not None and finding.hint


def test_node_rules_are_skipped_without_nodes_and_run_with_them(tmp_path: Path) -> None:
    write_docs(tmp_path / "pools.yaml", pool_doc("rack-1", "10.0.0.0/24", 'rack == "1"'))
    without = lint_paths(tmp_path).result
    assert set(without.skipped_rules) >= NODE_RULES
    assert not NODE_RULES & {f.rule for f in without.findings}
    write_docs(tmp_path / "nodes.yaml", node_doc("n2", "rack: '2'"))
    with_nodes = lint_paths(tmp_path).result
    assert not NODE_RULES & set(with_nodes.skipped_rules)
    assert {"node-unselected", "pool-selects-nothing"} <= {f.rule for f in with_nodes.findings}


def overlap_cluster(tmp_path: Path, annotations: str = "") -> Cluster:
    write_docs(tmp_path / "pools.yaml", pool_doc("default", "192.168.0.0/16"),
               pool_doc("rack-1", "192.168.1.0/24", annotations=annotations))
    return load_paths([str(tmp_path)])


def test_rule_levels_turn_rules_off_or_change_their_severity(tmp_path: Path) -> None:
    cluster = overlap_cluster(tmp_path)
    assert [f.severity for f in run(cluster).findings if f.rule == "pool-overlap"] == ["error"]
    assert [f.rule for f in run(cluster, Config(rule_levels={"pool-overlap": "off"})).findings] == []
    lowered = run(cluster, Config(rule_levels={"pool-overlap": "warning"}))
    assert [(f.rule, f.severity) for f in lowered.findings] == [("pool-overlap", "warning")]
    assert (lowered.errors, lowered.warnings) == (0, 1)


def test_ignore_annotation_moves_findings_aside_with_the_reason(tmp_path: Path) -> None:
    annotations = ("ippool-validator.io/ignore: 'pool-overlap, cidr-reserved', "
                   "ippool-validator.io/ignore-reason: 'migration, ticket NET-42'")
    result = run(overlap_cluster(tmp_path, annotations))
    assert result.findings == []
    assert [(f.rule, f.resource.name, reason) for f, reason in result.ignored] == [
        ("pool-overlap", "rack-1", "migration, ticket NET-42")]


def test_ignore_all_without_reason_and_other_rules_still_reported(tmp_path: Path) -> None:
    write_docs(tmp_path / "pools.yaml", pool_doc("default", "192.168.0.0/16"),
               pool_doc("rack-1", "192.168.1.1/24", annotations="ippool-validator.io/ignore: all"),
               pool_doc("rack-2", "192.168.2.0/24", annotations="ippool-validator.io/ignore: cidr-invalid"))
    result = run(load_paths([str(tmp_path)]))
    assert [(f.rule, f.resource.name) for f in result.findings] == [("pool-overlap", "rack-2")]
    assert {(f.rule, reason) for f, reason in result.ignored} == {
        ("cidr-invalid", "annotated ippool-validator.io/ignore")}


def test_focus_limits_findings_to_the_changed_objects(tmp_path: Path) -> None:
    write_docs(tmp_path / "pools.yaml", pool_doc("default", "192.168.0.0/16"),
               pool_doc("rack-1", "192.168.1.0/24"), pool_doc("other", "10.0.0.1/8"))
    (tmp_path / "broken.yaml").write_text("kind: IPPool\na: [\n")  # ours: a located error
    cluster = load_paths([str(tmp_path)])
    rack = Resource("projectcalico.org/v3", "IPPool", "rack-1")
    focus = Focus(pools=frozenset({rack}), objects=frozenset({rack}), cluster_wide=False)
    focused = run(cluster, focus=focus)
    assert [(f.rule, f.resource) for f in focused.findings] == [("pool-overlap", rack)]
    everything = run(cluster)
    assert {"cidr-invalid", "yaml-invalid", "pool-overlap"} <= {f.rule for f in everything.findings}


def test_running_twice_gives_the_same_findings(tmp_path: Path) -> None:
    cluster = overlap_cluster(tmp_path)
    assert run(cluster).findings == run(cluster).findings


# ---------------------------------------------------------------- overlap against brute force

def networks() -> st.SearchStrategy[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Small CIDRs in a small space, so that nesting and equality are frequent."""
    v4 = st.builds(lambda prefix, value: ipaddress.ip_network((value << (32 - prefix) & 0xFFFFFFFF, prefix)),
                   st.integers(8, 12), st.integers(0, 2 ** 12 - 1))
    v6 = st.builds(lambda prefix, value: ipaddress.ip_network(((value << (128 - prefix)) % 2 ** 128, prefix)),
                   st.integers(120, 124), st.integers(0, 2 ** 124 - 1))
    return st.one_of(v4, v6)


@settings(max_examples=200, deadline=None)
@given(st.lists(networks(), min_size=1, max_size=30))
def test_address_index_agrees_with_brute_force(nets: list) -> None:
    index = AddressIndex((net, i) for i, net in enumerate(nets))
    for net in nets:
        expected = sorted(i for i, other in enumerate(nets)
                          if other.version == net.version and other.overlaps(net))
        assert sorted(index.overlapping(net)) == expected


def model_pool(i: int, net, name: str | None = None) -> Pool:
    return Pool(Resource("projectcalico.org/v3", "IPPool", name or f"p{i}"), Source("pools.yaml", i + 1),
                {"cidr": str(net)})


@settings(max_examples=150, deadline=None)
@given(st.lists(networks(), min_size=1, max_size=25), st.integers(0, 3), st.booleans())
def test_pool_overlap_reports_each_overlapping_pair_once(nets: list, renamed: int, focused: bool) -> None:
    """Pools are told apart by their line; the first `renamed` share a name (not each other's overlap).
    Linted, a pool gets one finding whose related objects are every pool it overlaps; judged with a
    focus (the webhook), each pair is its own finding. Either way every pair is named exactly once."""
    pools = [model_pool(i, net, "same" if i < renamed else None) for i, net in enumerate(nets)]
    by_line = {p.source.line: p for p in pools}
    focus = Focus(pools=frozenset(p.resource for p in pools)) if focused else None
    findings = [f for f in run(Cluster(pools=pools), focus=focus).findings if f.rule == "pool-overlap"]
    expected = {frozenset((a.source.line, b.source.line)) for a, b in itertools.combinations(pools, 2)
                if a.name != b.name and a.network.version == b.network.version
                and a.network.overlaps(b.network)}
    got = [frozenset((f.source.line, r.source.line)) for f in findings for r in f.related]
    assert len(got) == len(set(got)), "a pair reported twice"
    assert set(got) == expected
    owners = [f.source.line for f in findings]
    assert focused or len(owners) == len(set(owners)), "one finding per pool"
    assert all(len(f.related) == 1 for f in findings) or not focused
    for finding in findings:
        owner = by_line[finding.source.line]
        assert finding.resource == owner.resource
        for related in finding.related:
            other = by_line[related.source.line]
            assert related.resource == other.resource
            assert owner.network.prefixlen >= other.network.prefixlen  # about the narrower pool
        assert f"contain {owner.network}" in finding.message
