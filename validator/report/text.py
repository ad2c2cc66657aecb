"""The default format, as compilers and ruff print: `file:line: severity rule: message`, the hint indented
under it, then the findings counted per rule and a one-line summary (always the last line).

Colour (ANSI) is the caller's choice (`render(report, color=True)`); the CLI decides it from the terminal,
`--no-color`, `NO_COLOR` and `FORCE_COLOR`. Without colour the text is plain, for files, pipes and tests.
"""

from __future__ import annotations

from ..model import Finding
from . import Report

STYLES = {"bold": "1", "dim": "2", "red": "1;31", "yellow": "1;33", "cyan": "36", "blue": "34"}
SEVERITY_STYLE = {"error": "red", "warning": "yellow", "ignored": "dim"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class _Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, style: str) -> str:
        return f"\x1b[{STYLES[style]}m{text}\x1b[0m" if self.color and text else text


def summary(report: Report) -> str:
    parts = [f"{_plural(report.errors, 'error')}, {_plural(report.warnings, 'warning')}",
             f"in {_plural(report.files, 'file')} "
             f"({_plural(report.pools, 'pool')}, {_plural(report.nodes, 'node')})"]
    text = " ".join(parts)
    notice = report.no_objects_notice()
    if notice:
        text += f"; {notice}"
    if not report.nodes_known:
        text += "; node rules skipped: no nodes known (add Node manifests or pass --nodes)"
    if report.ignored:
        text += f"; {len(report.ignored)} ignored by annotation"
    if report.skipped:
        text += f"; {_plural(len(report.skipped), 'file')} skipped"
    return text


def _finding(f: Finding, label: str, paint: _Painter, tail: str = "") -> list[str]:
    where = f"{f.source.file}:{f.source.line}" if f.source else "-"
    head = (f"{paint(where, 'bold')}: {paint(label, SEVERITY_STYLE.get(label, 'bold'))} "
            f"{paint(f.rule, 'cyan')}: {f.message}{tail}")
    return [head] + ([f"  {paint('hint:', 'blue')} {f.hint}"] if f.hint else [])


def rule_table(report: Report, paint: _Painter) -> list[str]:
    """Findings per rule, as `ruff --statistics` counts them: count, severity, rule."""
    rows = report.rule_counts()
    if not rows:
        return []
    width = max(len(str(n)) for _, _, n in rows)
    return [""] + [f"{n:>{width}}  {paint(f'{severity:<7}', SEVERITY_STYLE.get(severity, 'bold'))}  {rule}"
                   for rule, severity, n in rows]


def render(report: Report, color: bool = False) -> str:
    paint = _Painter(color)
    lines: list[str] = []
    for f in report.findings:
        lines += _finding(f, f.severity, paint)
    if report.show_ignored:
        for f, reason in report.ignored:
            lines += _finding(f, "ignored", paint, f" (reason: {reason})")
    lines.extend(f"{s.file}: skipped: {s.reason}" for s in report.skipped)
    lines += rule_table(report, paint)
    lines.append(paint(summary(report), "bold"))
    return "\n".join(lines) + "\n"
