"""Machine-readable output, for scripts: `{"version": 1, "findings": [...], "summary": {...}}`.

The shape is a contract, written as a JSON Schema shipped in the package (`validator/schemas/
report.schema.json`, whose `$id` ends in `/v1.json` for version 1). Adding a key is compatible and keeps the
version; renaming, removing or retyping one bumps it. Files are relative to the current folder with forward
slashes, as in SARIF, JUnit and the annotations (absolute when outside it; `<stdin>`, and `cluster:...` for
objects of a live cluster, as they are).
"""

from __future__ import annotations

import json
from typing import Any

from .. import schemas
from ..model import Finding, Source
from . import Report
from .locations import is_file, relative_path

VERSION = 1


def schema() -> dict[str, Any]:
    """The report's JSON Schema, as shipped in the package (validator/schemas/report.schema.json)."""
    return schemas.load("report")


def _file(source: Source | None) -> str | None:
    if source is None:
        return None
    return relative_path(source.file) if is_file(source) else source.file


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "severity": f.severity,
        "message": f.message,
        "resource": None if f.resource is None else {
            "apiVersion": f.resource.api_version, "kind": f.resource.kind, "name": f.resource.name},
        "file": _file(f.source),
        "line": f.source.line if f.source else None,
        "hint": f.hint,
        "related": [{"apiVersion": r.resource.api_version, "kind": r.resource.kind, "name": r.resource.name,
                     "file": _file(r.source), "line": r.source.line} for r in f.related],
    }


def render(report: Report) -> str:
    summary: dict[str, Any] = {
        "errors": report.errors, "warnings": report.warnings, "files": report.files, "pools": report.pools,
        "nodes": report.nodes, "nodesKnown": report.nodes_known, "skippedRules": report.skipped_rules,
        "ignored": len(report.ignored),
        "byRule": [{"rule": rule, "severity": severity, "findings": n}
                   for rule, severity, n in report.rule_counts()],
    }
    if report.objects is not None:
        summary["calicoObjects"] = report.objects
    notice = report.no_objects_notice()
    doc: dict[str, Any] = {
        "version": VERSION,
        "findings": [finding_dict(f) for f in report.findings],
        "summary": summary,
        "notices": [notice] if notice else [],
    }
    doc["skipped"] = [{"file": _file(Source(s.file)), "reason": s.reason} for s in report.skipped]
    if report.show_ignored:
        doc["ignored"] = [dict(finding_dict(f), reason=reason) for f, reason in report.ignored]
    return json.dumps(doc, indent=2) + "\n"
