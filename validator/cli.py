"""The `ippool-validator` command: lint, rules, serve, certs.

Heavy front ends (flask, kubernetes, cryptography) are imported inside the commands that need them, so
`lint` starts fast enough for a pre-commit hook.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from . import __version__
from .config import DEFAULT_MAX_PODS, Config
from .report import FORMATS, Report, render
from .rules import REGISTRY
from .sources.files import DEFAULT_MAX_FILE_BYTES, PathError, load_paths


def _fail_usage(message: str) -> NoReturn:
    raise click.UsageError(message)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ippool-validator")
def main() -> None:
    """Stops broken Calico IP pool configuration before it reaches a cluster."""


@main.command()
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Output format.")
@click.option("--fail-on", type=click.Choice(["error", "warning"]), default="error", show_default=True,
              help="Exit 1 when a finding of this severity (or worse) is found.")
@click.option("--max-pods", type=click.IntRange(1, 100_000), default=None,
              help=f"Pods per node for capacity checks when a node does not report its own [default: "
                   f"{DEFAULT_MAX_PODS}, or max-pods in the policy file].")
@click.option("--max-file-size", type=click.IntRange(1), default=DEFAULT_MAX_FILE_BYTES, show_default=True,
              help="Skip (and report) files larger than this many bytes.")
@click.option("--nodes", "nodes_files", multiple=True, type=click.Path(dir_okay=False),
              help="A `kubectl get nodes -o yaml` dump to take nodes from (repeatable).")
def lint(paths: tuple[str, ...], fmt: str, fail_on: str, max_pods: int | None, max_file_size: int,
         nodes_files: tuple[str, ...]) -> None:
    """Lint Calico pool manifests in PATHs (files, folders, or - for standard input; default: .).

    Reads IPPool (projectcalico.org/v3, crd.projectcalico.org/v1), IPPoolList, the operator's Installation,
    IPReservation, IPAMConfiguration, and Node/NodeList/List objects; other kinds are skipped.
    Exit status: 0 no error finding, 1 error findings (or warnings with --fail-on warning), 2 usage error.
    """
    from .engine import run

    config = Config()
    if max_pods is not None:
        config = Config(**{**config.__dict__, "max_pods": max_pods})
    try:
        cluster = load_paths(list(paths) or ["."], max_file_size)
        if nodes_files:
            extra = load_paths(list(nodes_files), max_file_size)
            cluster.nodes.extend(extra.nodes)
            cluster.problems.extend(extra.problems)
            cluster.nodes_known = True
    except PathError as err:
        _fail_usage(str(err))
    result = run(cluster, config)
    report = Report(result.findings, cluster.files, len(cluster.pools), len(cluster.nodes), cluster.nodes_known,
                    result.skipped_rules, result.ignored)
    click.echo(render(report, fmt), nl=False)
    failing = report.errors + (report.warnings if fail_on == "warning" else 0)
    sys.exit(1 if failing else 0)


@main.command("rules")
@click.argument("rule_id", required=False, metavar="[ID]")
def rules_cmd(rule_id: str | None) -> None:
    """List the rules, or print one rule's documentation."""
    if rule_id is None:
        width = max(len(r) for r in REGISTRY)
        for rule in REGISTRY.values():
            calico = "calico" if rule.calico and not rule.calico.startswith("link-local only") else "      "
            click.echo(f"{rule.id:<{width}}  {rule.severity:<7}  {calico}  {rule.summary}")
        return
    rule = REGISTRY.get(rule_id)
    if rule is None:
        _fail_usage(f"unknown rule {rule_id!r}; `ippool-validator rules` lists them")
    click.echo(f"# {rule.id} ({rule.severity})\n\n{rule.summary}.\n")
    click.echo(f"Also enforced by Calico: {rule.calico or 'no, this is an ippool-validator check'}\n")
    click.echo(rule.doc)


if __name__ == "__main__":  # pragma: no cover
    main()
