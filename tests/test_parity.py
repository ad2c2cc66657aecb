"""Calico parity beyond the cases: the rules Calico also enforces say so, our own range checks say Calico
accepts them, the update rule's table of what Calico accepts and refuses, and the rule catalogue rendered from
the registry. The cases themselves (a manifest Calico rejects, a near miss both accept, each with the Calico
source it was taken from in its `# calico:` line) are in tests/fixtures/rules/<rule>/, run by
test_rule_fixtures.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lint_support import FIXTURES, REPO, lint_paths

from validator.model import Pool, Resource, Source
from validator.rules import REGISTRY
from validator.rules.catalog import (
    TABLE_END,
    TABLE_START,
    calico_enforces,
    markdown_reference,
    markdown_table,
    readme_section,
)
from validator.rules.pool_immutable_field import MIGRATION_GUIDE, RULE_ID, update_problems

RULES = FIXTURES / "rules"
# The rules whose cases came from Calico's own validation code and tests (tests/fixtures/parity before).
CALICO_RULES = [
    "block-size-invalid", "cidr-invalid", "cidr-link-local", "encapsulation-invalid", "ipam-config-invalid",
    "ipreservation-invalid", "legacy-field-set", "load-balancer-invalid", "operator-pool-invalid",
    "pool-nearly-full", "pool-smaller-than-block", "pool-status-unallocatable", "schema-invalid",
    "selector-invalid", "tunnel-namespace-selector",
]


@pytest.mark.parametrize("rule_id", CALICO_RULES)
def test_every_parity_rule_has_cases_from_calico_and_a_calico_note(rule_id: str) -> None:
    noted = {p.name.split("-")[0] for p in (RULES / rule_id).glob("*-*.yaml")
             if "\n# calico: " in "\n" + p.read_text()}
    assert noted == {"bad", "good"}, "a case Calico rejects and a near miss both accept, each citing Calico"
    rule = REGISTRY[rule_id]
    assert rule.calico or rule_id == "pool-nearly-full", "a parity rule names the Calico component"
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert heading in rule.doc


def test_block_size_boundaries_are_covered() -> None:
    """The issue's boundary values: 20/32/116/128 accepted, one past each rejected."""
    names = {p.name for p in (RULES / "block-size-invalid").iterdir()}
    assert {"good-ipv4-20.yaml", "good-ipv4-32.yaml", "good-ipv6-116.yaml", "good-ipv6-128.yaml"} <= names
    assert {"bad-ipv4-19.yaml", "bad-ipv4-33.yaml", "bad-ipv6-115.yaml", "bad-ipv6-129.yaml"} <= names


def test_our_own_range_checks_stay_errors_and_say_calico_accepts_them() -> None:
    rule = REGISTRY["cidr-reserved"]
    assert rule.severity == "error" and not rule.calico and "Calico itself" in rule.doc
    assert "accepts" in rule.doc


def test_selector_that_does_not_parse_says_ipam_fails_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "pool.yaml"
    path.write_text("apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata: {name: a}\n"
                    "spec: {cidr: 10.0.0.0/16, nodeSelector: 'rack == 1'}\n")
    [finding] = lint_paths(path).of("selector-invalid")
    assert "fails every automatic IPv4 assignment on every node" in finding.message


# ---------------------------------------------------------------- update_problems (pool-immutable-field)

def make_pool(spec: dict, origin: str = "v3", name: str = "pool-a") -> Pool:
    api = "operator.tigera.io/v1" if origin == "operator" else "projectcalico.org/v3"
    return Pool(Resource(api, "IPPool", name), Source("new.yaml", 3), spec, origin)  # type: ignore[arg-type]


@pytest.mark.parametrize(("old", "new"), [
    ({"cidr": "10.0.0.0/16"}, {"cidr": "10.0.0.0/16", "natOutgoing": True}),
    ({"cidr": "FD00:0::/64"}, {"cidr": "fd00::/64"}),  # the same network in canonical form (cidrChangeOK)
    ({"cidr": "10.0.0.0/16"}, {"cidr": "10.0.0.0/16", "blockSize": 26}),
    ({"cidr": "10.0.0.0/16", "blockSize": 26}, {"cidr": "10.0.0.0/16", "blockSize": 0}),
    ({"cidr": "fd00::/64"}, {"cidr": "fd00::/64", "blockSize": 122}),
    ({"cidr": "10.0.0.0/16", "allowedUses": ["LoadBalancer"]},
     {"cidr": "10.0.0.0/16", "allowedUses": ["LoadBalancer"]}),
    ({"cidr": "10.0.0.0/16", "allowedUses": ["Workload"]},
     {"cidr": "10.0.0.0/16", "allowedUses": ["LoadBalancer"]}),
], ids=["other-field", "canonical-cidr", "blocksize-default-made-explicit", "blocksize-zero-is-default",
        "ipv6-default", "lb-stays-lb", "workload-to-lb"])
def test_updates_calico_accepts(old: dict, new: dict) -> None:
    assert update_problems(make_pool(old), make_pool(new)) == []


@pytest.mark.parametrize(("old", "new", "subjects", "fragment"), [
    ({"cidr": "10.0.0.0/16"}, {"cidr": "10.1.0.0/16"}, ["cidr"], "CIDR cannot be modified"),
    ({"cidr": "10.0.0.0/16"}, {"cidr": "10.0.0.0/15"}, ["cidr"], "10.0.0.0/16 to 10.0.0.0/15"),
    ({"cidr": "10.0.0.0/16", "blockSize": 26}, {"cidr": "10.0.0.0/16", "blockSize": 24}, ["blockSize"],
     "BlockSize cannot be modified"),
    ({"cidr": "10.0.0.0/16"}, {"cidr": "10.0.0.0/16", "blockSize": 28}, ["blockSize"], "from 26 to 28"),
    ({"cidr": "10.0.0.0/16", "blockSize": 24}, {"cidr": "10.1.0.0/16"}, ["cidr", "blockSize"],
     "migration guide"),
    ({"cidr": "10.0.0.0/16", "allowedUses": ["LoadBalancer"]},
     {"cidr": "10.0.0.0/16", "allowedUses": ["Workload"]},
     ["allowedUses"], "from LoadBalancer to Workload"),
    ({"cidr": "10.0.0.0/16", "allowedUses": ["LoadBalancer"]}, {"cidr": "10.0.0.0/16"}, ["allowedUses"],
     "Tunnel, Workload"),
], ids=["cidr", "cidr-prefix", "blocksize", "blocksize-from-default", "both", "lb-to-workload",
        "lb-to-default"])
def test_updates_calico_refuses(old: dict, new: dict, subjects: list[str], fragment: str) -> None:
    problems = update_problems(make_pool(old), make_pool(new))
    assert [p.subject for p in problems] == subjects
    assert all(p.rule == RULE_ID and p.severity == "error" for p in problems)
    assert all(MIGRATION_GUIDE in p.hint and p.resource == make_pool(new).resource for p in problems)
    assert any(fragment in p.message for p in problems), [p.message for p in problems]


def test_operator_pool_with_a_new_cidr_is_a_new_pool() -> None:
    """The operator keys its pools by CIDR: a new CIDR creates a pool and deletes the old one."""
    old = make_pool({"cidr": "10.0.0.0/16", "blockSize": 26}, "operator")
    assert update_problems(old, make_pool({"cidr": "10.9.0.0/16", "blockSize": 24}, "operator")) == []
    [problem] = update_problems(old, make_pool({"cidr": "10.0.0.0/16", "blockSize": 24}, "operator"))
    assert problem.subject == "blockSize"


CIDRS = ["10.0.0.0/16", "10.0.1.0/16", "10.0.0.0/15", "FD00:0::/64", "fd00::/64", "fd00::1/64", "10.0.0.1",
         "not a cidr", "", None, 5]
MISSING = object()


def reference_subjects(old: Pool, new: Pool) -> list[str]:
    """What update_problems reports, worked out the long way: each version's CIDR parsed on its own."""
    old_net, new_net = old.masked_network, new.masked_network
    same = new_net is not None and old_net == new_net
    if new.origin == "operator" and not same:
        return []
    subjects = ["cidr"] if new.origin != "operator" and old.spec.get("cidr") != new.spec.get("cidr") \
        and not same else []

    def size(pool: Pool, net: object) -> object:
        raw = pool.spec.get("blockSize")
        defaulted = raw is None or (raw == 0 and not isinstance(raw, bool))
        return {4: 26, 6: 122}[net.version] if defaulted and net is not None else raw  # type: ignore[attr-defined]

    if size(old, old_net) != size(new, new_net):
        subjects.append("blockSize")
    if "LoadBalancer" in old.allowed_uses and set(new.allowed_uses) - {"LoadBalancer"}:
        subjects.append("allowedUses")
    return subjects


@settings(max_examples=400, deadline=None)
@given(cidrs=st.tuples(st.sampled_from(CIDRS), st.sampled_from(CIDRS)),
       sizes=st.tuples(*[st.sampled_from([MISSING, None, 0, 24, 26, 122, "26", True])] * 2),
       uses=st.tuples(*[st.sampled_from([MISSING, ["LoadBalancer"], ["Workload"], ["Tunnel", "Workload"]])]
                      * 2),
       origin=st.sampled_from(["v3", "operator"]), same_cidr=st.booleans())
def test_update_problems_agrees_with_parsing_both_versions(cidrs: tuple, sizes: tuple, uses: tuple,
                                                           origin: str, same_cidr: bool) -> None:
    """update_problems parses the old version's CIDR only when its text differs from the new one's: over
    equal and different texts (canonical forms, host bits, addresses, garbage, non-strings), the findings
    are those of reading each version on its own."""
    specs = []
    for cidr, size, use in zip((cidrs[0], cidrs[0] if same_cidr else cidrs[1]), sizes, uses, strict=True):
        spec = {"cidr": cidr, "blockSize": size, "allowedUses": use}
        specs.append({k: v for k, v in spec.items() if v is not MISSING})
    old, new = make_pool(specs[0], origin), make_pool(specs[1], origin)
    assert [p.subject for p in update_problems(old, new)] == reference_subjects(make_pool(specs[0], origin),
                                                                                 make_pool(specs[1], origin))


def test_immutable_field_rule_is_registered_and_quiet_in_a_lint(tmp_path: Path) -> None:
    rule = REGISTRY[RULE_ID]
    assert rule.severity == "error" and rule.scope == "object" and rule.calico and "migration" in rule.doc
    path = tmp_path / "pool.yaml"
    path.write_text("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: a}\n"
                    "spec: {cidr: 10.0.0.0/16}\n")
    assert lint_paths(path).of(RULE_ID) == []


# ---------------------------------------------------------------- the rule catalogue

def test_table_lists_every_rule_once_on_the_right_side() -> None:
    table = markdown_table()
    calico_part, ours_part = table.split("### What only ippool-validator checks")
    for rule in REGISTRY.values():
        cell = f"[`{rule.id}`]("
        assert table.count(cell) == 1, rule.id
        assert cell in (calico_part if calico_enforces(rule) else ours_part), rule.id
    assert "| [`load-balancer-invalid`]" in calico_part and "| [`node-block-limit`]" in ours_part


def test_reference_renders_every_rule_doc() -> None:
    reference = markdown_reference()
    for rule in REGISTRY.values():
        assert f'<a id="{rule.id}"></a>\n## {rule.id}\n' in reference
        assert "### What it does" in reference
    assert "\n## What it does" not in reference


def test_readme_table_is_generated_from_the_registry() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme_section(readme)
    assert section is not None, f"README.md lacks the {TABLE_START} / {TABLE_END} markers"
    assert section == markdown_table(), "regenerate it: python -m validator.rules.catalog"


def test_docs_rule_reference_is_generated_from_the_registry() -> None:
    reference = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    assert reference == markdown_reference(), "regenerate it: python -m validator.rules.catalog"


def test_readme_section_reads_between_markers() -> None:
    text = f"intro\n{TABLE_START}\n| a |\n{TABLE_END}\nrest\n"
    assert readme_section(text) == "| a |\n"
    assert readme_section("no markers") is None
