"""GitHub Actions workflow commands: each finding becomes an annotation on its file and line in the run.

`::error file=F,line=L,title=RULE::MESSAGE` (`::warning` for warnings, `::notice` for findings an ignore
annotation skipped, with --show-ignored). Escaping follows the runner's rules (actions/toolkit
`command.ts`): `%`, CR and LF in the message; also `:` and `,` in property values. Findings in a live
cluster (--kubeconfig) have no file: they become annotations of the run itself. The last line is the plain
summary, which the runner prints as it is.

GitHub shows only the first 10 error and 10 warning annotations of a step, so `step_summary` renders every
finding, with counts per rule, as markdown for the job summary (`$GITHUB_STEP_SUMMARY`), within the runner's
1 MiB limit for one step's summary.
"""

from __future__ import annotations

from ..model import Finding
from ..rules import REGISTRY
from . import Report
from .locations import is_file, relative_path
from .text import summary


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, finding: Finding, title: str, note: str = "") -> str:
    properties: list[tuple[str, str]] = []
    if finding.source is not None and is_file(finding.source):
        properties.append(("file", relative_path(finding.source.file)))
        if finding.source.line >= 1:
            properties.append(("line", str(finding.source.line)))
    properties.append(("title", title))
    text = finding.message
    if finding.source is not None and not is_file(finding.source):
        text = f"{finding.source.file}: {text}"
    if finding.hint:
        text += f"\nHint: {finding.hint}"
    if note:
        text += f"\n{note}"
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    return f"::{level} {props}::{escape_data(text)}"


def render(report: Report) -> str:
    lines = [command(f.severity, f, f.rule) for f in report.findings]
    if report.show_ignored:
        lines += [command("notice", f, f"{f.rule} (ignored)", f"Ignored by annotation: {reason}")
                  for f, reason in report.ignored]
    notice = report.no_objects_notice()
    if notice:
        lines.append(f"::{'error' if report.fail_if_no_objects else 'notice'} title=ippool-validator::"
                     f"{escape_data(notice)}")
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


ANNOTATIONS_SHOWN = 10  # per severity and step (GitHub's documented limit)
SUMMARY_MAX_BYTES = 1_000_000  # the runner refuses a step summary over 1 MiB


def markdown_cell(text: str) -> str:
    """Text safe in a markdown table cell: no pipes, no line breaks, no HTML."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
            .replace("\r", "").replace("\n", "<br>"))


def step_summary(report: Report) -> str:
    """Markdown for the job summary: the summary line, counts per rule, then every finding."""
    head = ["## ippool-validator", "", f"**{markdown_cell(summary(report))}**", ""]
    if report.errors > ANNOTATIONS_SHOWN or report.warnings > ANNOTATIONS_SHOWN:
        head += [f"GitHub shows only the first {ANNOTATIONS_SHOWN} error and {ANNOTATIONS_SHOWN} warning "
                 "annotations of a step; every finding is listed below.", ""]
    counts = report.rule_counts()
    if counts:
        head += ["| Rule | Severity | Findings |", "|---|---|---:|"]
        head += [f"| {_rule_link(rule)} | {severity} | {n} |" for rule, severity, n in counts]
        head += ["", "| Where | Severity | Rule | Message |", "|---|---|---|---|"]
    text = "\n".join(head) + "\n"
    size = len(text.encode())
    for shown, finding in enumerate(report.findings):
        row = _row(finding) + "\n"
        left = len(report.findings) - shown
        if size + len(row.encode()) + 200 > SUMMARY_MAX_BYTES:
            text += f"\n... and {left} more findings (past GitHub's size limit for a summary): see the log.\n"
            break
        text, size = text + row, size + len(row.encode())
    return text + "\n"


def _rule_link(rule_id: str) -> str:
    rule = REGISTRY.get(rule_id)
    return f"[`{rule_id}`]({rule.help_uri})" if rule is not None else f"`{rule_id}`"


def _row(finding: Finding) -> str:
    where = "-"
    if finding.source is not None:
        where = (f"{relative_path(finding.source.file)}:{finding.source.line}" if is_file(finding.source)
                 else finding.source.file)
    message = finding.message + (f"\nHint: {finding.hint}" if finding.hint else "")
    return (f"| `{markdown_cell(where)}` | {finding.severity} | {_rule_link(finding.rule)} | "
            f"{markdown_cell(message)} |")
