"""Every rule's cases, in one tree and one harness: `tests/fixtures/rules/<rule-id>/{bad,good}-*.yaml`.

As yamllint's tests/rules and ruff's per-rule case tables, a case states the exact findings it expects,
of every rule, in its leading comment lines, so a new case is a new file:

    # expect: pool-overlap at 8, 10; fallback-missing at 3   the findings: rule and line (repeatable line)
    # expect: nothing                                        no finding of any rule
    # message: both contain 10.1.0.0/16                      a fragment a finding of the folder's rule says
    # calico: test/validation/ippool_test.go "..."           where the case comes from in Calico (optional)
    # old: old-pool.yaml                                     an UPDATE: the objects before the change

Each case is linted alone, under its folder's `policy.yaml` when there is one (the policy rules), and the
findings of all rules must be exactly the expected ones. A bad case has a finding of its folder's rule, a
good case none; a good case taken from Calico (`calico:`) has no error finding, since Calico accepts it.
A finding in another file than the case (the policy's line) is written `policy.yaml:2`.

An audit rule (`Rule.target == "audit"`) judges IPAM state, not manifests: its cases are dumps (multi-document
YAML of IPAMBlocks, affinities, handles, pools, nodes and pods) read and audited as `ippool-validator audit`
does, as of AUDIT_NOW, with every audit rule run, so their headers state audit findings.

An update rule (pool-immutable-field) judges two versions of a pool: its cases name the earlier version in
`old:` (an `old-*.yaml` file beside them, not a case itself); the harness adds what Calico refuses of that
update, pool by pool, to the lint's findings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest
from lint_support import FIXTURES, lint_paths

from validator.audit.core import audit
from validator.audit.dumps import read_dumps
from validator.audit.model import policy_from
from validator.config import Config, load_config
from validator.model import Finding
from validator.rules import REGISTRY
from validator.rules.pool_immutable_field import update_problems
from validator.sources.files import load_paths

RULES = FIXTURES / "rules"
POLICY = "policy.yaml"
HEADER = re.compile(r"#\s*(expect|message|calico|old):\s*(.*)")
GROUP = re.compile(r"(?P<rule>[a-z0-9-]+)\s+at\s+(?P<where>\S.*)$")


@dataclass
class Case:
    path: Path
    expected: list[tuple[str, str]] = field(default_factory=list)  # (rule, where), sorted
    messages: list[str] = field(default_factory=list)
    calico: str = ""
    old: Path | None = None

    @property
    def rule(self) -> str:
        return self.path.parent.name

    @property
    def bad(self) -> bool:
        return self.path.name.startswith("bad-")


def parse_expect(value: str, path: Path) -> list[tuple[str, str]]:
    """`rule at 8, 10; other at 3` -> [(rule, "8"), (rule, "10"), (other, "3")]; `nothing` -> []."""
    if value == "nothing":
        return []
    found = []
    for group in value.split(";"):
        match = GROUP.match(group.strip())
        assert match, f"{path}: bad expect group {group!r} (want 'RULE at LINE, LINE')"
        found += [(match.group("rule"), where.strip()) for where in match.group("where").split(",")]
    return found


def read_case(path: Path) -> Case:
    """The expectations stated in the case's leading comment lines."""
    case, expects = Case(path), 0
    for raw in path.read_text(encoding="utf-8-sig", errors="replace").splitlines():
        if not raw.startswith("#"):
            break
        match = HEADER.match(raw)
        if not match:
            continue
        key, value = match.group(1), match.group(2).strip()
        if key == "expect":
            expects += 1
            case.expected += parse_expect(value, path)
        elif key == "message":
            case.messages.append(value)
        elif key == "calico":
            case.calico = value
        else:
            case.old = path.parent / value
    assert expects, f"{path}: the case states no '# expect:' line"
    case.expected.sort(key=_order)
    return case


def _order(item: tuple[str, str]) -> tuple[str, int, str]:
    rule, where = item
    return (rule, int(where) if where.isdigit() else -1, where)


def where(finding: Finding, case: Path) -> str:
    """A finding's place as a case's header writes it: its line, or file:line in another file."""
    if finding.source is None:
        return "-"
    if Path(finding.source.file) == case:
        return str(finding.source.line)
    return f"{Path(finding.source.file).name}:{finding.source.line}"


def config_for(folder: Path) -> Config:
    return load_config(folder / POLICY) if (folder / POLICY).exists() else Config()


AUDIT_NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)  # audit cases' timestamps are relative to it


def findings_of(case: Case) -> list[Finding]:
    """The case linted alone under its folder's policy, plus the refusals of its update, if it is one;
    an audit rule's case audited alone instead."""
    if REGISTRY[case.rule].target == "audit":
        policy = policy_from(config_for(case.path.parent))
        return audit(read_dumps([str(case.path)], AUDIT_NOW), AUDIT_NOW, policy).findings
    findings = list(lint_paths(case.path, config=config_for(case.path.parent)).result.findings)
    if case.old is not None:
        before = {pool.resource: pool for pool in load_paths([str(case.old)]).pools}
        for pool in load_paths([str(case.path)]).pools:
            if pool.resource in before:
                findings += update_problems(before[pool.resource], pool)
    return findings


def case_files() -> list[Path]:
    return sorted(p for prefix in ("bad", "good") for p in RULES.glob(f"*/{prefix}-*.yaml"))


def case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def shown(findings: list[Finding]) -> str:
    return "\n".join(f"  {f.source}: {f.severity} {f.rule}: {f.message}" for f in findings)


@pytest.mark.parametrize("path", case_files(), ids=case_id)
def test_case_has_exactly_the_findings_it_states(path: Path) -> None:
    case = read_case(path)
    findings = findings_of(case)
    got = sorted(((f.rule, where(f, path)) for f in findings), key=_order)
    assert got == case.expected, f"findings differ from the header:\n{shown(findings)}"
    own = [f for f in findings if f.rule == case.rule]
    if case.bad:
        assert own, f"a bad case has a finding of {case.rule}"
    else:
        assert not own, f"a good case has no finding of {case.rule}"
        assert not (case.calico and [f for f in findings if f.severity == "error"]), \
            f"Calico accepts this case, so no rule may call it an error:\n{shown(findings)}"
    for fragment in case.messages:
        assert any(fragment in f.message for f in own), f"no {case.rule} finding says {fragment!r}"
    for finding in findings:
        assert finding.severity == REGISTRY[finding.rule].severity
        assert finding.source is not None and finding.source.line >= 1 and finding.message
        assert finding.source.file in (str(path), str(path.parent / POLICY))


@pytest.mark.parametrize("rule_id", list(REGISTRY))
def test_every_rule_has_bad_and_good_cases(rule_id: str) -> None:
    folder = RULES / rule_id
    assert sorted(folder.glob("bad-*.yaml")), f"no bad-*.yaml in {folder}"
    assert sorted(folder.glob("good-*.yaml")), f"no good-*.yaml in {folder}"


def test_every_case_folder_is_a_rule_and_holds_only_cases() -> None:
    for folder in RULES.iterdir():
        assert folder.name in REGISTRY, f"{folder} names no rule"
        for file in folder.iterdir():
            assert file.name == POLICY or re.fullmatch(r"(bad|good|old)-[a-z0-9.-]+\.yaml", file.name), file
    olds = {p for p in RULES.glob("*/old-*.yaml")}
    named = {case.old for case in map(read_case, case_files()) if case.old is not None}
    assert olds == named, "every old-*.yaml is the earlier version of some case, and exists"


@pytest.mark.parametrize("rule_id", list(REGISTRY))
def test_rule_doc_has_the_four_sections(rule_id: str) -> None:
    rule = REGISTRY[rule_id]
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert heading in rule.doc, f"{rule_id}: doc lacks {heading!r}"
    assert rule.summary and rule.severity in ("error", "warning")


def test_header_parser_reads_every_key(tmp_path: Path) -> None:
    path = tmp_path / "bad-x.yaml"
    path.write_text("# expect: pool-overlap at 8, 10; fallback-missing at policy.yaml:2\n"
                    "# expect: cidr-invalid at 3\n# message: a b\n# calico: ippool.go\n# old: old-x.yaml\n"
                    "# a comment\nkind: X\n# expect: not-a-header at 1\n")
    case = read_case(path)
    assert case.expected == [("cidr-invalid", "3"), ("fallback-missing", "policy.yaml:2"),
                             ("pool-overlap", "8"), ("pool-overlap", "10")]
    assert (case.messages, case.calico, case.old) == (["a b"], "ippool.go", tmp_path / "old-x.yaml")
    nothing = tmp_path / "good-x.yaml"
    nothing.write_text("# expect: nothing\nkind: X\n")
    assert read_case(nothing).expected == []


@pytest.mark.parametrize("text", ["kind: X\n", "# message: m\nkind: X\n", "# expect: pool-overlap 8\n"])
def test_header_parser_refuses_a_case_without_a_readable_expect(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad-x.yaml"
    path.write_text(text)
    with pytest.raises(AssertionError):
        read_case(path)
