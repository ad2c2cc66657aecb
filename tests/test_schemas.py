"""The schemas package: every schema is a valid Draft 2020-12 schema, and the compiled checker gives
jsonschema's verdict on random and mutated objects (so jsonschema need only explain the failures)."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from validator import schemas
from validator.schemas.checker import compile_schema

META = {"name": "p-1", "labels": {"topology.kubernetes.io/zone": "a"}, "annotations": {"x/y": "z"}}
VALID: dict[str, dict[str, Any]] = {
    "ippool": {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": META,
               "spec": {"cidr": "10.0.0.0/16", "blockSize": 26, "ipipMode": "Always", "vxlanMode": "Never",
                        "natOutgoing": True, "nodeSelector": "all()", "allowedUses": ["Workload", "Tunnel"],
                        "assignmentMode": "Automatic", "disabled": False}},
    "ipreservation": {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPReservation", "metadata": META,
                      "spec": {"reservedCIDRs": ["10.0.0.1/32", "10.0.1.0/24"]}},
    "ipamconfiguration": {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPAMConfig", "metadata": META,
                          "spec": {"strictAffinity": True, "autoAllocateBlocks": True,
                                   "maxBlocksPerHost": 4}},
    "installation": {"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": META,
                     "spec": {"calicoNetwork": {"ipPools": [
                         {"name": "a", "cidr": "10.0.0.0/16", "encapsulation": "VXLAN",
                          "natOutgoing": "Enabled", "allowedUses": ["Workload"]}]}}},
    "config": {"rules": {"pool-overlap": "warning"}, "max-pods": 110, "allowed-cidrs": ["10.0.0.0/8"],
               "reserved-cidrs": [{"cidr": "10.96.0.0/12", "reason": "services"}],
               "require-dual-stack": False, "topology-labels": ["rack", "topology.kubernetes.io/*"]},
}


def _vocabulary() -> tuple[list[str], list[str]]:
    """Every property name and every string value the schemas mention, so random objects hit them."""
    keys: set[str] = set()
    values: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            keys.update(k for k in node.get("properties", {}) if isinstance(k, str))
            for word in ("enum", "const"):
                if word in node:
                    found = node[word] if word == "enum" else [node[word]]
                    values.update(v for v in found if isinstance(v, str))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for name in schemas.NAMES:
        walk(schemas.load(name))
    return sorted(keys), sorted(values)


KEYS, WORDS = _vocabulary()
texts = st.one_of(st.sampled_from(WORDS), st.sampled_from(WORDS).map(str.lower), st.sampled_from(KEYS),
                  st.text(max_size=8), st.sampled_from(["", "a" * 64, "a" * 254, "Bad_Name", "x/y", "-a",
                                                        "10.0.0.0/16", "a\n", " "]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 200), st.sampled_from([0, 1, 1.0, 26.0, 2.5,
                    100001, math.nan, math.inf, -math.inf, 10**30]), texts)
tricky = st.sampled_from([1.0, 26.0, 110.0, 0, 1, True, False, None, "", "Always", "26", math.nan, [], {}]
                         ).map(copy.deepcopy)  # fresh containers: mutations must not edit the strategy
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.sampled_from(KEYS), texts, st.integers(0, 2)),
                                                 inner, max_size=5)), max_leaves=12)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(obj, dict):
        for key, value in obj.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, name: str) -> Any:
    """A valid object with a few random edits: a value replaced, a key deleted or added, an item added."""
    obj = copy.deepcopy(VALID[name])
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(obj)))
        if not path:
            continue
        parent = obj
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add", "append"]))
        if action == "replace":
            parent[path[-1]] = draw(st.one_of(tricky, values))
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.one_of(st.sampled_from(KEYS), texts))] = draw(values)
        elif action == "append" and isinstance(parent[path[-1]], list):
            item = draw(st.one_of(values, st.sampled_from(parent[path[-1]] or [1])))
            parent[path[-1]].append(copy.deepcopy(item))
    return obj


def _jsonschema_verdict(name: str, instance: Any, prune: bool) -> bool:
    return schemas.validator(name).is_valid(schemas.without_nulls(instance) if prune else instance)


@pytest.mark.parametrize("name", schemas.NAMES)
def test_every_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    Draft202012Validator.check_schema(schemas.load(name))
    assert schemas.load(name)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", schemas.NAMES)
def test_the_base_objects_are_valid_for_both(name: str) -> None:
    assert schemas.is_valid(name, VALID[name])
    assert _jsonschema_verdict(name, VALID[name], True)
    assert schemas.errors(name, VALID[name]) == []


@pytest.mark.parametrize("name", schemas.NAMES)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_verdict_equals_jsonschema_on_mutated_objects(name: str, data: st.DataObject) -> None:
    instance = data.draw(mutated(name))
    for prune in (True, False):
        assert schemas.is_valid(name, instance, prune) == _jsonschema_verdict(name, instance, prune), \
            json.dumps(instance, default=str)


@pytest.mark.parametrize("name", schemas.NAMES)
@settings(max_examples=200, deadline=None)
@given(instance=values)
def test_compiled_verdict_equals_jsonschema_on_random_values(name: str, instance: Any) -> None:
    assert schemas.is_valid(name, instance) == _jsonschema_verdict(name, instance, True)


def test_mutations_give_both_verdicts() -> None:
    """The differential tests mean something only if the mutations produce valid and invalid objects."""
    seen: set[bool] = set()

    @settings(max_examples=150, deadline=None, database=None)
    @given(instance=mutated("ippool"))
    def collect(instance: Any) -> None:
        seen.add(schemas.is_valid("ippool", instance))

    collect()
    assert seen == {True, False}


def test_errors_come_from_jsonschema_only_for_invalid_objects() -> None:
    bad = copy.deepcopy(VALID["ippool"])
    bad["spec"]["ipipMode"] = "always"
    bad["spec"]["annotations"] = None  # a null: absent to the API server, so not an unknown field
    found = schemas.errors("ippool", bad)
    assert [(list(e.absolute_path), e.validator) for e in found] == [(["spec", "ipipMode"], "enum")]


def test_a_keyword_outside_the_subset_is_refused_when_compiling() -> None:
    for schema in ({"type": "object", "patternProperties": {"a": {}}, "additionalProperties": False},
                   {"$ref": "#/x"}, {"format": "ipv4"}, {"enum": [1, 2]}, {"uniqueItems": True}):
        with pytest.raises(ValueError, match="outside the compiled subset"):
            compile_schema(schema)


def test_config_nulls_are_values_and_object_nulls_are_absent() -> None:
    assert not schemas.is_valid("config", {"max-pods": None}, prune_nulls=False)
    assert schemas.is_valid("ippool", {**VALID["ippool"], "status": None})


def test_a_valid_object_is_judged_without_importing_jsonschema(tmp_path) -> None:
    """jsonschema is only for explaining failures: linting valid pools leaves it unimported (start-up)."""
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "p.yaml").write_text("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: a}\n"
                                     "spec: {cidr: 10.0.0.0/16}\n", encoding="utf-8")
    code = ("import sys\nfrom validator.cli import main\ntry:\n    main(['lint', 'p.yaml'])\n"
            "except SystemExit:\n    pass\nprint('jsonschema' in sys.modules, file=sys.stderr)\n")
    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          check=False, env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"})
    assert done.stderr.strip().splitlines()[-1] == "False", done.stderr
