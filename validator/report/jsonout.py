"""Machine-readable output: `{"findings": [...], "summary": {...}}`, stable keys for scripts."""

from __future__ import annotations

import json
from typing import Any

from ..model import Finding
from . import Report


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "severity": f.severity,
        "message": f.message,
        "resource": None if f.resource is None else {
            "apiVersion": f.resource.api_version, "kind": f.resource.kind, "name": f.resource.name},
        "file": f.source.file if f.source else None,
        "line": f.source.line if f.source else None,
        "hint": f.hint,
        "related": [{"apiVersion": r.resource.api_version, "kind": r.resource.kind, "name": r.resource.name,
                     "file": r.source.file, "line": r.source.line} for r in f.related],
    }


def render(report: Report) -> str:
    doc: dict[str, Any] = {
        "findings": [finding_dict(f) for f in report.findings],
        "summary": {"errors": report.errors, "warnings": report.warnings, "files": report.files,
                    "pools": report.pools, "nodes": report.nodes, "nodesKnown": report.nodes_known,
                    "skippedRules": report.skipped_rules, "ignored": len(report.ignored)},
    }
    if report.show_ignored:
        doc["ignored"] = [dict(finding_dict(f), reason=reason) for f, reason in report.ignored]
    return json.dumps(doc, indent=2) + "\n"
