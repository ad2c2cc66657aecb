"""GitHub Actions workflow commands: each finding becomes an annotation on its file and line in the run.

`::error file=F,line=L,title=RULE::MESSAGE` (`::warning` for warnings, `::notice` for findings an ignore
annotation skipped, with --show-ignored). Escaping follows the runner's rules (actions/toolkit
`command.ts`): `%`, CR and LF in the message; also `:` and `,` in property values. Findings in a live
cluster (--kubeconfig) have no file: they become annotations of the run itself. The last line is the plain
summary, which the runner prints as it is.
"""

from __future__ import annotations

from ..model import Finding
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
    lines.append(summary(report))
    return "\n".join(lines) + "\n"
