"""One folder of fixtures per rule: `bad-*.yaml` must trigger the rule, `good-*.yaml` must not.

A fixture states what it expects in its leading comments, so a new case is a new file:

    # expect: pool-overlap 2 at 8,10      the rule, how many findings, and (optionally) their lines
    # message: both contain 10.1.0.0/16   a fragment some finding of the rule carries (repeatable)
    # also: fallback-missing              other issue-2 rules this file triggers on purpose

Each fixture is linted alone. Among the issue-2 rules, only the expected rule and the `also` rules may fire,
so a fixture stays minimal; rules added later by other modules are not held against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lint_support import FIXTURES, ISSUE_RULES, lint_paths

from validator.rules import REGISTRY

HEADER = re.compile(r"#\s*(expect|message|also):\s*(.*)")
EXPECT = re.compile(r"(?P<rule>[a-z0-9-]+)\s+(?P<count>\d+)(?:\s+at\s+(?P<lines>[\d,\s]+))?$")


@dataclass
class Expectation:
    rule: str
    count: int
    lines: list[int] | None
    messages: list[str] = field(default_factory=list)
    also: set[str] = field(default_factory=set)


def expectation(path: Path) -> Expectation:
    """The expectation stated in the fixture's leading comment lines."""
    found: Expectation | None = None
    messages: list[str] = []
    also: set[str] = set()
    for raw in path.read_text(encoding="utf-8-sig", errors="replace").splitlines():
        if not raw.startswith("#"):
            break
        match = HEADER.match(raw)
        if not match:
            continue
        key, value = match.group(1), match.group(2).strip()
        if key == "expect":
            parsed = EXPECT.match(value)
            assert parsed, f"{path}: bad expect line {raw!r}"
            lines = parsed.group("lines")
            found = Expectation(parsed.group("rule"), int(parsed.group("count")),
                                [int(x) for x in lines.replace(" ", "").split(",")] if lines else None)
        elif key == "message":
            messages.append(value)
        else:
            also.update(part.strip() for part in value.split(",") if part.strip())
    assert found is not None, f"{path}: the first comment line must be '# expect: RULE COUNT'"
    found.messages, found.also = messages, also
    return found


def fixture_files(prefix: str) -> list[Path]:
    return sorted(p for rule in ISSUE_RULES for p in (FIXTURES / rule).glob(f"{prefix}-*.yaml"))


def fixture_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def check(path: Path) -> None:
    expect = expectation(path)
    assert expect.rule == path.parent.name, "a fixture's expected rule is its folder's rule"
    linted = lint_paths(path)
    found = linted.of(expect.rule)
    shown = "\n".join(f"{f.source}: {f.rule}: {f.message}" for f in linted.result.findings)
    assert len(found) == expect.count, f"expected {expect.count} {expect.rule} finding(s), got:\n{shown}"
    if expect.lines is not None:
        assert [f.source.line for f in found] == expect.lines, shown
    for fragment in expect.messages:
        assert any(fragment in f.message for f in found), f"no finding says {fragment!r}:\n{shown}"
    rule = REGISTRY[expect.rule]
    for finding in found:
        assert finding.severity == rule.severity
        assert finding.source is not None and finding.source.file == str(path)
        assert finding.source.line >= 1
        assert finding.message
    unexpected = {r for r in linted.rules() if r in ISSUE_RULES} - {expect.rule} - expect.also
    assert not unexpected, f"the fixture also triggers {sorted(unexpected)}:\n{shown}"
    missing = expect.also - set(linted.rules())
    assert not missing, f"'also' rules that did not fire: {sorted(missing)}"


@pytest.mark.parametrize("path", fixture_files("bad"), ids=fixture_id)
def test_bad_fixture_triggers_its_rule(path: Path) -> None:
    assert expectation(path).count > 0, "a bad fixture expects at least one finding"
    check(path)


@pytest.mark.parametrize("path", fixture_files("good"), ids=fixture_id)
def test_good_fixture_does_not_trigger_its_rule(path: Path) -> None:
    assert expectation(path).count == 0, "a good fixture expects no finding of its rule"
    check(path)


@pytest.mark.parametrize("rule_id", ISSUE_RULES)
def test_every_rule_has_bad_and_good_fixtures(rule_id: str) -> None:
    assert rule_id in REGISTRY
    folder = FIXTURES / rule_id
    assert list(folder.glob("bad-*.yaml")), f"no bad-*.yaml in {folder}"
    assert list(folder.glob("good-*.yaml")), f"no good-*.yaml in {folder}"


@pytest.mark.parametrize("rule_id", ISSUE_RULES)
def test_rule_doc_has_the_four_sections(rule_id: str) -> None:
    doc = REGISTRY[rule_id].doc
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert heading in doc, f"{rule_id}: doc lacks {heading!r}"
    assert REGISTRY[rule_id].summary and REGISTRY[rule_id].severity in ("error", "warning")


def test_expectation_parser_reads_lines_messages_and_also(tmp_path: Path) -> None:
    path = tmp_path / "bad-x.yaml"
    path.write_text("# expect: pool-overlap 2 at 8, 10\n# message: a b\n# also: x, y\nkind: X\n")
    got = expectation(path)
    assert (got.rule, got.count, got.lines, got.messages, got.also) == (
        "pool-overlap", 2, [8, 10], ["a b"], {"x", "y"})
