"""SARIF 2.1.0, the format GitHub code scanning (and most CI dashboards) read.

One `reportingDescriptor` per registered rule, whose descriptions and help are the rule's own doc; one
result per finding at its file and line, with the other objects it involves as related locations. Paths are
relative to `%SRCROOT%` (the folder the linter ran in, normally the repository root). Findings about objects
of a live cluster (`--kubeconfig`) have a logical location instead of a file. `partialFingerprints` hash
what makes a finding the same problem across runs (rule, object, related objects), not its line, so code
scanning keeps an alert's history when lines move.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import __version__
from ..model import Finding, Related, Source
from ..rules import Rule
from ..rules.base import DOCS_URL
from . import Report
from .locations import is_file, relative_path

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = DOCS_URL.split("/blob/")[0]
SRCROOT = "%SRCROOT%"
FINGERPRINT = "ippoolValidatorIdentity/v1"


def render(report: Report) -> str:
    rules = report.rules_used()
    index = {rule.id: i for i, rule in enumerate(rules)}
    results = [_result(f, index, None) for f in report.findings]
    if report.show_ignored:
        results += [_result(f, index, reason) for f, reason in report.ignored]
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "ippool-validator",
            "version": __version__,
            "semanticVersion": __version__,
            "informationUri": INFORMATION_URI,
            "rules": [_descriptor(rule) for rule in rules],
        }},
        "originalUriBaseIds": {SRCROOT: {"uri": Path.cwd().resolve().as_uri().rstrip("/") + "/"}},
        "invocations": [_invocation(report)],
        "results": results,
        "properties": {"files": report.files, "pools": report.pools, "nodes": report.nodes,
                       "nodesKnown": report.nodes_known,
                       **({} if report.objects is None else {"calicoObjects": report.objects})},
    }
    return json.dumps({"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"


def _descriptor(rule: Rule) -> dict[str, Any]:
    tags = ["calico", "ippool"] + (["policy"] if rule.needs_config else []) + (
        ["nodes"] if rule.needs_nodes else [])
    properties: dict[str, Any] = {"tags": tags, "problem.severity": rule.severity, "precision": "very-high"}
    if rule.calico:
        properties["calico"] = rule.calico
    if rule.needs_config:
        properties["policyKey"] = rule.needs_config
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": _section(rule.doc, "What it does") or rule.summary, "markdown": rule.doc},
        "help": {"text": rule.doc, "markdown": rule.doc},
        "helpUri": rule.help_uri,
        "defaultConfiguration": {"level": rule.severity},
        "properties": properties,
    }


def _section(doc: str, title: str) -> str:
    """One `## title` section of a rule's doc, as one line of plain text."""
    match = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", doc, re.M | re.S)
    return " ".join(match.group(1).split()) if match else ""


def _result(finding: Finding, index: dict[str, int], ignored_reason: str | None) -> dict[str, Any]:
    text = finding.message + (f"\nHint: {finding.hint}" if finding.hint else "")
    result: dict[str, Any] = {"ruleId": finding.rule}
    if finding.rule in index:
        result["ruleIndex"] = index[finding.rule]
    result.update({"level": finding.severity, "message": {"text": text},
                   "partialFingerprints": {FINGERPRINT: _fingerprint(finding)}})
    location = _location(finding.source, str(finding.resource) if finding.resource else "")
    if location is not None:
        result["locations"] = [location]
    related = [loc for loc in (_related(i, r) for i, r in enumerate(finding.related, 1)) if loc is not None]
    if related:
        result["relatedLocations"] = related
    if ignored_reason is not None:
        result["suppressions"] = [{"kind": "inSource", "status": "accepted", "justification": ignored_reason}]
    return result


def _location(source: Source | None, resource: str) -> dict[str, Any] | None:
    if source is None or not source.file:
        return None
    if not is_file(source):
        return {"logicalLocations": [{"fullyQualifiedName": source.file, "name": resource or source.file,
                                      "kind": "resource"}]}
    path = relative_path(source.file)
    artifact = ({"uri": Path(path).as_uri()} if Path(path).is_absolute()
                else {"uri": quote(path, safe="/"), "uriBaseId": SRCROOT})
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if source.line >= 1:
        physical["region"] = {"startLine": source.line}
    location: dict[str, Any] = {"physicalLocation": physical}
    if resource:
        location["message"] = {"text": resource}
    return location


def _related(number: int, related: Related) -> dict[str, Any] | None:
    location = _location(related.source, str(related.resource))
    if location is not None:
        location["id"] = number
    return location


def _fingerprint(finding: Finding) -> str:
    parts = [finding.rule, str(finding.resource or ""), *(str(r.resource) for r in finding.related),
             finding.subject]
    if finding.resource is None and finding.source is not None:
        parts.append(relative_path(finding.source.file))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _invocation(report: Report) -> dict[str, Any]:
    invocation: dict[str, Any] = {"executionSuccessful": True}
    notes: list[dict[str, Any]] = []
    notice = report.no_objects_notice()
    if notice:
        level = "error" if report.fail_if_no_objects else "note"
        notes.append({"level": level, "message": {"text": notice}})
    if report.skipped_rules:
        why = "no nodes known (add Node manifests, --nodes or --kubeconfig)" if not report.nodes_known else ""
        text = f"rules skipped: {', '.join(report.skipped_rules)}" + (f": {why}" if why else "")
        notes.append({"level": "note", "message": {"text": text}})
    if notes:
        invocation["toolExecutionNotifications"] = notes
    return invocation
