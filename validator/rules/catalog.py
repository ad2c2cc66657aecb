"""The rule catalogue as Markdown, rendered from the registry: the README's table of what Calico checks
and what only ippool-validator checks, and the full rule reference (docs/rules.md).

Both are generated, never written by hand, so that a rule's summary, severity, Calico note and doc are
written once, in the rule's module.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from . import REGISTRY, Rule

TABLE_START = "<!-- rules-table:start -->"
TABLE_END = "<!-- rules-table:end -->"
REFERENCE_PATH = "docs/rules.md"


def calico_enforces(rule: Rule) -> bool:
    """True when some Calico component (calicoctl, the API server, the CRDs, kube-controllers or the tigera
    operator) rejects or flags the same thing; `rule.calico` says which, and since when."""
    return bool(rule.calico)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _link(rule: Rule, base: str) -> str:
    return f"[`{rule.id}`]({base}#{rule.id})"


def _rows(rules: Iterable[Rule], with_calico: bool, base: str) -> list[str]:
    rows = []
    for rule in rules:
        cells = [_link(rule, base), rule.severity, _cell(rule.summary)]
        if with_calico:
            cells.append(_cell(rule.calico))
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def markdown_table(rules: Iterable[Rule] | None = None, link_base: str = REFERENCE_PATH) -> str:
    """Two tables, in registry order: the rules whose faults Calico also rejects (with the component and
    version), and the rules that only ippool-validator checks."""
    chosen = list(REGISTRY.values() if rules is None else rules)
    calico = [r for r in chosen if calico_enforces(r)]
    ours = [r for r in chosen if not calico_enforces(r)]
    lines = [
        "### What Calico checks",
        "",
        "ippool-validator reports these before Calico does, whatever the install path would have let "
        "through.",
        "",
        "| Rule | Severity | What it finds | Enforced by Calico in |",
        "|---|---|---|---|",
        *_rows(calico, True, link_base),
        "",
        "### What only ippool-validator checks",
        "",
        "Calico accepts these; they fail later, at run time, or never work as meant.",
        "",
        "| Rule | Severity | What it finds |",
        "|---|---|---|",
        *_rows(ours, False, link_base),
    ]
    return "\n".join(lines) + "\n"


def _demote(doc: str) -> str:
    """Rule docs use `##` headings; under the rule's own `##` heading they become `###`."""
    return "\n".join("#" + line if line.startswith("## ") else line for line in doc.splitlines())


def where_text(rule: Rule) -> str:
    """Where a newcomer finds the rule: its module and its folder of cases (paths in the repository)."""
    return f"Code: `{rule.code_path}`; cases: `{rule.cases_path}` (bad-*.yaml, good-*.yaml)"


def rule_text(rule: Rule) -> str:
    """One rule as `ippool-validator rules ID` prints it: heading, summary, Calico note, where its code and
    cases are, and its doc."""
    calico = rule.calico or "no, this is an ippool-validator check"
    return (f"# {rule.id} ({rule.severity})\n\n{rule.summary}.\n\nAlso enforced by Calico: {calico}\n\n"
            f"{where_text(rule)}\n\n{rule.doc}\n")


def markdown_reference(rules: Iterable[Rule] | None = None) -> str:
    """The full rule reference: one section per rule, anchored by its id (the `help_uri` target)."""
    parts = ["# Rules", "",
             "Generated from the rule modules by `python -m validator.rules.catalog`; do not edit.", "",
             markdown_table(rules, link_base="").rstrip("\n"), ""]
    for rule in (REGISTRY.values() if rules is None else rules):
        calico = rule.calico or "no: this is ippool-validator's own check."
        parts += [
            f'<a id="{rule.id}"></a>',
            f"## {rule.id}",
            "",
            f"**{rule.severity}**: {rule.summary}.",
            "",
            f"Enforced by Calico: {calico}",
            "",
            where_text(rule) + ".",
            "",
            _demote(rule.doc),
            "",
        ]
    return "\n".join(parts).rstrip("\n") + "\n"


def readme_section(readme: str) -> str | None:
    """The text between the README's table markers (without them), or None when the markers are absent."""
    if TABLE_START not in readme or TABLE_END not in readme:
        return None
    start = readme.index(TABLE_START) + len(TABLE_START)
    return readme[start:readme.index(TABLE_END, start)].strip("\n") + "\n"


def write(root: Path) -> None:
    """Regenerate docs/rules.md and the README's table from the registry."""
    (root / REFERENCE_PATH).parent.mkdir(parents=True, exist_ok=True)
    (root / REFERENCE_PATH).write_text(markdown_reference(), encoding="utf-8")
    readme = (root / "README.md").read_text(encoding="utf-8")
    if readme_section(readme) is not None:
        start = readme.index(TABLE_START) + len(TABLE_START)
        end = readme.index(TABLE_END, start)
        readme = readme[:start] + "\n" + markdown_table() + readme[end:]
        (root / "README.md").write_text(readme, encoding="utf-8")


if __name__ == "__main__":
    write(Path(__file__).resolve().parents[2])
