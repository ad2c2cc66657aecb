"""values.schema.json refuses wrong types and unknown keys, and values.yaml documents every field."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml
from chart_render import CHART_DIR, HelmFailed, render

SCHEMA = json.loads((CHART_DIR / "values.schema.json").read_text())
VALUES_TEXT = (CHART_DIR / "values.yaml").read_text()
VALUES = yaml.safe_load(VALUES_TEXT)


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        pytest.param(
            {"replicaCount": "two"}, "at '/replicaCount': got string, want integer", id="string-for-int"
        ),
        pytest.param(
            {"hostNetwork": "yes"}, "at '/hostNetwork': got string, want boolean", id="string-for-bool"
        ),
        pytest.param({"port": 80}, "at '/port': minimum", id="privileged-port"),
        pytest.param(
            {"webhook": {"timeoutSeconds": 31}}, "at '/webhook/timeoutSeconds': maximum", id="timeout"
        ),
        pytest.param({"webhook": {"failurePolicy": "fail"}}, "at '/webhook/failurePolicy'", id="policy-case"),
        pytest.param({"webhook": {"mode": "audit"}}, "at '/webhook/mode'", id="unknown-mode"),
        pytest.param({"tls": {"mode": "selfSigned"}}, "at '/tls/mode'", id="unknown-tls-mode"),
        pytest.param(
            {"webhook": {"excludedNamespaces": "kube-system"}},
            "at '/webhook/excludedNamespaces'",
            id="string-for-list",
        ),
        pytest.param(
            {"tls": {"certManager": {"duration": "90 days"}}},
            "at '/tls/certManager/duration'",
            id="bad-duration",
        ),
        pytest.param(
            {"hostNetwrok": False}, "additional properties 'hostNetwrok' not allowed", id="typo-top"
        ),
        pytest.param(
            {"webhook": {"nodes": {"failurepolicy": "Fail"}}},
            "additional properties 'failurepolicy' not allowed",
            id="typo-nested",
        ),
        pytest.param(
            {"image": {"digest": "sha256:0"}},
            "additional properties 'digest' not allowed",
            id="unknown-nested",
        ),
        pytest.param(
            {"resources": {"limit": {"cpu": "1"}}},
            "additional properties 'limit' not allowed",
            id="typo-resources",
        ),
    ],
)
def test_schema_refuses_bad_values(values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(HelmFailed) as refused:
        render(values)
    assert "values don't meet the specifications of the schema" in str(refused.value)
    assert complaint in str(refused.value)


def test_schema_accepts_the_defaults_and_a_parent_charts_globals() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.Draft7Validator(SCHEMA).validate(VALUES)
    assert render({"global": {"imageRegistry": "registry.example.com"}})


def schema_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of every property the schema declares (closed objects only)."""
    paths = set()
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        paths.add(path)
        if sub.get("additionalProperties") is False:
            paths |= schema_paths(sub, f"{path}.")
    return paths


def value_paths(values: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> set[str]:
    paths = set()
    for name, value in values.items():
        path = f"{prefix}{name}"
        paths.add(path)
        sub = schema["properties"][name]
        if isinstance(value, dict) and sub.get("additionalProperties") is False:
            paths |= value_paths(value, sub, f"{path}.")
    return paths


def test_schema_and_values_declare_the_same_fields() -> None:
    declared = schema_paths(SCHEMA) - {
        "global",
        "tls.certManager.issuerRef.name",
        "tls.certManager.issuerRef.kind",
        "tls.certManager.issuerRef.group",
    }
    assert value_paths(VALUES, SCHEMA) == declared


def test_every_schema_property_is_described() -> None:
    def undescribed(schema: dict[str, Any], prefix: str = "") -> list[str]:
        missing = []
        for name, sub in schema.get("properties", {}).items():
            if "description" not in sub and "properties" not in sub:
                missing.append(prefix + name)
            missing += undescribed(sub, f"{prefix}{name}.")
        return missing

    assert undescribed(SCHEMA) == []


KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z][\w.-]*):")


def undocumented_values(text: str) -> list[str]:
    """Keys with no comment directly above them nor above any of their parents."""
    missing = []
    stack: list[tuple[int, str, bool]] = []  # (indent, key, documented)
    previous = ""
    for line in text.splitlines():
        match = KEY.match(line)
        if match:
            indent = len(match["indent"])
            while stack and stack[-1][0] >= indent:
                stack.pop()
            documented = previous.lstrip().startswith("#") or any(d for _, _, d in stack)
            stack.append((indent, match["key"], documented))
            value = line.split(":", 1)[1].strip()
            if not documented and value:
                missing.append(".".join(k for _, k, _ in stack))
        if line.strip():
            previous = line
    return missing


def test_values_file_documents_every_field() -> None:
    assert undocumented_values(VALUES_TEXT) == []
    assert undocumented_values("image:\n  # -- documented\n  tag: x\n  pullPolicy: y\n") == [
        "image.pullPolicy"
    ]
