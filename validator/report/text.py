"""The default format, one line per finding as compilers print them: `file:line: severity rule: message`."""

from __future__ import annotations

from . import Report


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(report: Report) -> str:
    parts = [f"{_plural(report.errors, 'error')}, {_plural(report.warnings, 'warning')}",
             f"in {_plural(report.files, 'file')} "
             f"({_plural(report.pools, 'pool')}, {_plural(report.nodes, 'node')})"]
    text = " ".join(parts)
    if not report.nodes_known:
        text += "; node rules skipped: no nodes known (add Node manifests or pass --nodes)"
    if report.ignored:
        text += f"; {len(report.ignored)} ignored by annotation"
    return text


def render(report: Report) -> str:
    lines = []
    for f in report.findings:
        where = f"{f.source.file}:{f.source.line}" if f.source else "-"
        lines.append(f"{where}: {f.severity} {f.rule}: {f.message}")
    if report.show_ignored:
        for f, reason in report.ignored:
            where = f"{f.source.file}:{f.source.line}" if f.source else "-"
            lines.append(f"{where}: ignored {f.rule}: {f.message} (reason: {reason})")
    lines.append(summary(report))
    return "\n".join(lines) + "\n"
