"""What the `audit` command does between its options and its output, kept out of cli.py.

It reads the state (dumps or a cluster), audits it, and renders it in the chosen format; the command
only prints and exits. Renderers for SARIF, GitHub and JUnit are lint's, fed a lint Report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .core import audit
from .model import AuditState, policy_from


@dataclass
class Outcome:
    text: str = ""
    errors: int = 0
    warnings: int = 0
    usage_error: str = ""
    read_error: str = ""


def parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--now {text!r} is not an RFC 3339 time (e.g. 2026-12-01T09:00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def run_audit(*args: Any) -> Outcome:
    """Read, audit and render with the cyclic garbage collector paused: a 5,000-node state is a million
    small objects with no cycles, and the collector would walk them again and again while they are made
    (`sources.files.collector_paused`); reference counting still frees everything else at once."""
    from ..sources.files import collector_paused

    with collector_paused():
        return _run_audit(*args)


def _run_audit(
    paths: tuple[str, ...],
    kubeconfig: str | None,
    context: str | None,
    pod_status: bool,
    since: tuple[str, ...],
    fmt: str,
    config: object,
    now_text: str | None,
    show_ignored: bool,
) -> Outcome:
    from .dumps import DumpPathError, read_dumps

    try:
        now = parse_now(now_text)
    except ValueError as err:
        return Outcome(usage_error=str(err))
    try:
        if kubeconfig:
            from ..sources.kube import ClusterReadError
            from .live import read_live

            try:
                state = read_live(kubeconfig, context, pod_status)
            except ClusterReadError as err:
                return Outcome(read_error=str(err))
            origin = state.origin
        else:
            state = read_dumps(paths, now)
            origin = ", ".join(paths)
        old = read_dumps(since) if since else None
    except DumpPathError as err:
        return Outcome(usage_error=str(err))
    when = now or state.taken_at or datetime.now(timezone.utc)
    result = audit(state, when, policy_from(config), old)
    return Outcome(_render(result, state, origin, fmt, show_ignored), result.errors, result.warnings)


def _render(result, state: AuditState, origin: str, fmt: str, show_ignored: bool) -> str:  # type: ignore[no-untyped-def]
    from ..report import audit as audit_report

    if fmt == "json":
        return audit_report.render_json(result, origin, show_ignored)
    if fmt == "text":
        return audit_report.render_text(result, origin, show_ignored)
    from ..report import Report, render

    report = Report(
        result.findings,
        0,
        len(state.pools),
        len(state.nodes),
        state.nodes_known,
        result.skipped_rules,
        result.ignored,
        show_ignored,
        target="audit",
    )
    return render(report, fmt)
