"""JUnit XML, for CI systems that show test reports (GitLab merge requests, Jenkins, Azure Pipelines).

One `testsuite` named ippool-validator. Every rule is a test: a rule that found nothing is one passing
`testcase`; a rule that found something has one failing `testcase` per finding (named after the object, with
`file` and `line`), so a report lists each problem where it is. JUnit knows no warnings: a warning is a
`failure` of `type="warning"` (an error one of `type="error"`), so it is seen; whether the job fails is still
the linter's exit status (`--fail-on`). Rules that could not run (no nodes known) and, with --show-ignored,
findings an ignore annotation skipped are `skipped` test cases. Counts: tests = passing + failing + skipped
test cases, failures = failing test cases, errors = 0. Paths that hold no Calico object say so in the suite's
`system-out`; with --fail-if-no-objects-found that is also a failing test case, `calico-objects-found`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from ..model import Finding
from . import Report
from .locations import is_file, relative_path

SUITE = "ippool-validator"


def render(report: Report) -> str:
    findings: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        findings[finding.rule].append(finding)
    ignored: dict[str, list[tuple[Finding, str]]] = defaultdict(list)
    if report.show_ignored:
        for finding, reason in report.ignored:
            ignored[finding.rule].append((finding, reason))
    skipped_rules = set(report.skipped_rules)
    rule_ids = [rule.id for rule in report.rules_used()]
    rule_ids += sorted((set(findings) | set(ignored)) - set(rule_ids))

    suite = ET.Element("testsuite", name=SUITE)
    properties = ET.SubElement(suite, "properties")
    for key, value in (("files", report.files), ("pools", report.pools), ("nodes", report.nodes),
                       ("nodesKnown", str(report.nodes_known).lower())):
        ET.SubElement(properties, "property", name=key, value=str(value))
    if report.objects is not None:
        ET.SubElement(properties, "property", name="calicoObjects", value=str(report.objects))
    tests = failures = skipped = 0
    notice = report.no_objects_notice()
    if notice and report.fail_if_no_objects:
        case = _case(suite, "calico-objects-found", "calico-objects-found")
        ET.SubElement(case, "failure", type="error", message=notice)
        tests, failures = tests + 1, failures + 1
    for rule_id in rule_ids:
        if rule_id in skipped_rules:
            case = _case(suite, rule_id, rule_id)
            ET.SubElement(case, "skipped", message="not run: no nodes known (add Node manifests, --nodes or "
                                                   "--kubeconfig)")
            tests, skipped = tests + 1, skipped + 1
            continue
        for finding in findings.get(rule_id, []):
            case = _finding_case(suite, finding)
            failure = ET.SubElement(case, "failure", type=finding.severity, message=finding.message)
            failure.text = _details(finding)
            tests, failures = tests + 1, failures + 1
        for finding, reason in ignored.get(rule_id, []):
            case = _finding_case(suite, finding)
            ET.SubElement(case, "skipped", message=f"ignored by annotation: {reason}")
            tests, skipped = tests + 1, skipped + 1
        if not findings.get(rule_id):
            _case(suite, rule_id, rule_id)
            tests += 1
    if notice:
        ET.SubElement(suite, "system-out").text = notice
    counts = {"tests": str(tests), "failures": str(failures), "errors": "0", "skipped": str(skipped),
              "time": "0"}
    suite.attrib.update(counts)
    root = ET.Element("testsuites", {"name": SUITE, **counts})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _case(suite: ET.Element, rule_id: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=f"{SUITE}.{rule_id}", name=name, time="0")


def _finding_case(suite: ET.Element, finding: Finding) -> ET.Element:
    where = ""
    if finding.source is not None:
        where = (f"{relative_path(finding.source.file)}:{finding.source.line}" if is_file(finding.source)
                 else finding.source.file)
    subject = f" [{finding.subject}]" if finding.subject else ""
    name = f"{finding.rule}: {finding.resource or 'cluster'}{subject}" + (f" ({where})" if where else "")
    case = _case(suite, finding.rule, name)
    if finding.source is not None and is_file(finding.source):
        case.set("file", relative_path(finding.source.file))
        case.set("line", str(finding.source.line))
    return case


def _details(finding: Finding) -> str:
    lines = [f"{finding.severity} {finding.rule}: {finding.message}"]
    if finding.source is not None:
        lines.insert(0, f"{finding.source.file}:{finding.source.line}")
    if finding.hint:
        lines.append(f"hint: {finding.hint}")
    lines += [f"related: {r.resource} at {r.source.file}:{r.source.line}" for r in finding.related]
    return "\n".join(lines)
