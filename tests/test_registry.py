"""The rule registry: one declared table, one module per rule named from its id, no id twice."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import validator.rules
from validator.model import Source
from validator.rules import REGISTRY
from validator.rules.base import Rule, input_rule, registry, rule
from validator.rules.catalog import rule_text

NOT_RULES = {"base", "catalog", "common"}  # what a rule is, the docs it renders, the helpers rules share


def rule_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(validator.rules.__path__) if m.name not in NOT_RULES)


def test_each_rule_lives_in_the_module_named_from_its_id() -> None:
    assert rule_modules() == sorted(rule_id.replace("-", "_") for rule_id in REGISTRY)
    for rule_id, registered in REGISTRY.items():
        module = importlib.import_module(f"validator.rules.{rule_id.replace('-', '_')}")
        assert [v for v in vars(module).values() if isinstance(v, Rule)] == [registered], rule_id


def test_helper_modules_define_no_rule() -> None:
    for name in NOT_RULES:
        module = importlib.import_module(f"validator.rules.{name}")
        assert not [v for v in vars(module).values() if isinstance(v, Rule)], name


def test_the_table_keeps_the_order_it_declares() -> None:
    first, second = (rule(i, "error", "s")(lambda ctx: iter(())) for i in ("b-rule", "a-rule"))
    assert list(registry(first, second)) == ["b-rule", "a-rule"]


@pytest.mark.parametrize("kind", ["rule", "input_rule"])
def test_an_id_given_twice_is_refused_whichever_kind_of_rule(kind: str) -> None:
    existing = next(iter(REGISTRY.values()))
    if kind == "rule":
        again = rule(existing.id, "warning", "again")(lambda ctx: iter(()))
    else:
        again = input_rule(existing.id, "warning", "again", "doc")
    with pytest.raises(ValueError, match=f"rule {existing.id} registered twice"):
        registry(*REGISTRY.values(), again)


def test_defining_a_rule_registers_nothing() -> None:
    before = dict(REGISTRY)
    rule("new-rule", "error", "s")(lambda ctx: iter(()))
    input_rule("new-input-rule", "error", "s", "doc")
    assert before == REGISTRY


REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("rule_id", list(REGISTRY))
def test_a_rule_knows_where_its_code_and_cases_are(rule_id: str) -> None:
    registered = REGISTRY[rule_id]
    assert (REPO / registered.code_path).is_file()
    assert sorted((REPO / registered.cases_path).glob("bad-*.yaml"))
    if registered.id != "yaml-invalid":  # its findings come from the sources; it checks nothing itself
        assert registered.check.__module__ == registered.module
    assert registered in vars(importlib.import_module(registered.module)).values()


def test_rule_text_says_where_the_code_and_cases_are() -> None:
    text = rule_text(REGISTRY["cidr-reserved"])
    assert text.startswith("# cidr-reserved (error)\n\nThe pool overlaps loopback, multicast or unspecified "
                           "addresses.\n\nAlso enforced by Calico: no, this is an ippool-validator check\n")
    assert "Code: `validator/rules/cidr_reserved.py`; cases: `tests/fixtures/rules/cidr-reserved/`" in text
    assert text.endswith(REGISTRY["cidr-reserved"].doc + "\n")
    assert "Also enforced by Calico: calicoctl" in rule_text(REGISTRY["pool-overlap"])


def test_the_sources_take_yaml_invalid_severity_from_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """No severity is written in the sources: a registry that said warning would make it a warning."""

    from validator.sources.files import input_problem

    assert input_problem("a.yaml", 3, "broken").severity == REGISTRY["yaml-invalid"].severity == "error"
    monkeypatch.setitem(REGISTRY, "yaml-invalid", REGISTRY["yaml-invalid"]._replace(severity="warning"))
    problem = input_problem("a.yaml", 3, "broken")
    assert (problem.rule, problem.severity) == ("yaml-invalid", "warning")
    assert problem.source == Source("a.yaml", 3)
