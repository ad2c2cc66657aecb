"""The `ippool-validator` command: lint, rules, serve, certs.

Heavy front ends (flask, kubernetes, cryptography) are imported inside the commands that need them, so
`lint` starts fast enough for a pre-commit hook.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import NoReturn

import click

from . import __version__
from .config import CONFIG_NAME, DEFAULT_MAX_PODS, Config, ConfigError, find_config, load_config
from .model import DEFAULT_MAX_BODY_BYTES, Cluster
from .outputs import (
    Output,
    OutputError,
    append_step_summary,
    check_destination,
    plan,
    use_color,
    write_atomically,
)
from .report import FORMATS, Report, render
from .rules import REGISTRY, Rule
from .sources.files import DEFAULT_MAX_FILE_BYTES, PathError, discover, load_paths
from .sources.selection import ExcludeError, Excluder

# one instance for every file option: click looks up the translation of its name (gettext, a few file
# lookups) each time one is made, and a dozen of them cost lint's start-up some 0.4 ms
FILE = click.Path(dir_okay=False)


def _fail_usage(message: str) -> NoReturn:
    raise click.UsageError(message)


class FormatSpec(click.ParamType):
    """`FORMAT` or `FORMAT=FILE`: one rendering of the lint, to standard output or to a file."""

    name = "format"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Output:
        if isinstance(value, Output):
            return value
        fmt, _, path = str(value).partition("=")
        if fmt not in FORMATS:
            self.fail(f"{fmt!r} is not one of {', '.join(FORMATS)} (as FORMAT or FORMAT=FILE)", param, ctx)
        if _ and not path:
            self.fail(f"{value!r} names no file after '='", param, ctx)
        return Output(fmt, None if path in ("", "-") else path)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ippool-validator")
def main() -> None:
    """Stops broken Calico IP pool configuration before it reaches a cluster."""


@main.command()
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--format", "formats", type=FormatSpec(), multiple=True, metavar="FORMAT[=FILE]",
              help=f"Output format: {', '.join(FORMATS)} [default: text]. Repeatable: with =FILE to "
                   "that file, one without to standard output (--format github --format sarif=out.sarif).")
@click.option("--output", "-o", "output_file", type=FILE, default=None,
              help="Write the format given without =FILE to this file instead of standard output.")
@click.option("--force", is_flag=True, help="Overwrite existing --output and FORMAT=FILE files.")
@click.option("--no-color", is_flag=True,
              help="No colour in text output (also NO_COLOR=1; FORCE_COLOR=1 colours a pipe too).")
@click.option("--fail-if-no-objects-found", "fail_no_objects", is_flag=True,
              help="Exit 1 when the paths hold no Calico object at all (a wrong path in CI).")
@click.option("--fail-on", type=click.Choice(["error", "warning"]), default="error", show_default=True,
              help="Exit 1 when a finding of this severity (or worse) is found.")
@click.option("--max-pods", type=click.IntRange(1, 100_000), default=None,
              help=f"Pods per node for capacity checks when a node does not report its own [default: "
                   f"{DEFAULT_MAX_PODS}, or max-pods in the policy file].")
@click.option("--max-file-size", type=click.IntRange(1), default=DEFAULT_MAX_FILE_BYTES, show_default=True,
              help="Skip (and report) files larger than this many bytes.")
@click.option("--nodes", "nodes_files", multiple=True, type=FILE,
              help="A `kubectl get nodes -o yaml` dump to take nodes from (repeatable); read up to 1 GiB "
                   "whatever --max-file-size says, since a large cluster's dump is large.")
@click.option("--config", "config_file", type=FILE, default=None,
              help=f"Policy file [default: {CONFIG_NAME} in the current folder or a parent, up to the git "
                   "root].")
@click.option("--show-ignored", is_flag=True, help="Also list the findings that ignore annotations skipped.")
@click.option("--kubeconfig", type=FILE, default=None,
              help="Read the live cluster's nodes through this kubeconfig.")
@click.option("--context", "kube_context", default=None,
              help="The kubeconfig context to use [default: its current context].")
@click.option("--cluster-pools", is_flag=True,
              help="With --kubeconfig, also read the live IP pools and reservations; the repository's "
                   "objects replace live ones of the same name.")
@click.option("--exclude", "excludes", multiple=True, metavar="PATTERN",
              help="Do not lint paths that match this gitignore-style pattern, relative to the current "
                   "folder (repeatable; added to `exclude:` in the policy file). Files named as PATHs are "
                   "always read.")
@click.option("--strict-parse", is_flag=True,
              help="Report YAML that does not parse as an error even when it holds nothing like a Calico "
                   "or Node object (by default such a file is listed as skipped).")
def lint(paths: tuple[str, ...], formats: tuple[Output, ...], output_file: str | None, force: bool,
         no_color: bool, fail_no_objects: bool, fail_on: str, max_pods: int | None, max_file_size: int,
         nodes_files: tuple[str, ...], config_file: str | None, show_ignored: bool, kubeconfig: str | None,
         kube_context: str | None, cluster_pools: bool, excludes: tuple[str, ...],
         strict_parse: bool) -> None:
    """Lint Calico pool manifests in PATHs (files, folders, or - for standard input; default: .).

    Reads IPPool (projectcalico.org/v3, crd.projectcalico.org/v1), IPPoolList, the operator's Installation,
    IPReservation, IPAMConfiguration, and Node/NodeList/List objects; other kinds are ignored. Helm chart
    templates, and YAML that does not parse and shows no object of those kinds, are listed as skipped.
    Files named by --output or FORMAT=FILE are written whole or not at all, and an existing one only with
    --force. With --format github and $GITHUB_STEP_SUMMARY set, a markdown job summary of every finding is
    appended to it.
    Exit status: 0 no error finding, 1 error findings (or warnings with --fail-on warning; or no Calico
    object with --fail-if-no-objects-found), 2 usage error (including a policy file that is not valid, a
    cluster that cannot be read, and an output file that exists or cannot be written).
    """
    from .engine import run

    if (kube_context or cluster_pools) and not kubeconfig:
        _fail_usage("--context and --cluster-pools need --kubeconfig")
    outputs = _outputs(formats, output_file, force)
    config = _policy(config_file)
    if max_pods is not None:
        config = dataclasses.replace(config, max_pods=max_pods)
    exclude = _excluder(config, excludes)
    try:
        cluster = load_paths(list(paths) or ["."], max_file_size, strict_parse, exclude)
        _add_nodes_files(cluster, list(paths) or ["."], nodes_files, max_file_size, exclude)
    except PathError as err:
        _fail_usage(str(err))
    if kubeconfig:
        _add_live_cluster(cluster, kubeconfig, kube_context, cluster_pools)
    result = run(cluster, config)
    report = Report(result.findings, cluster.files, len(cluster.pools), len(cluster.nodes),
                    cluster.nodes_known, result.skipped_rules, result.ignored, show_ignored,
                    objects=len(cluster.manifests), paths=tuple(paths) or (".",),
                    fail_if_no_objects=fail_no_objects, skipped=result.skipped, target="lint")
    _emit(report, outputs, force, no_color)
    failing = report.errors + (report.warnings if fail_on == "warning" else 0)
    sys.exit(1 if failing or (fail_no_objects and report.no_objects) else 0)


def _outputs(formats: tuple[Output, ...], output_file: str | None, force: bool) -> list[Output]:
    try:
        outputs = plan(formats, output_file)
        for output in outputs:
            if output.path is not None:
                check_destination(output.path, force)
    except OutputError as err:
        _fail_usage(str(err))
    return outputs


def _emit(report: Report, outputs: list[Output], force: bool, no_color: bool) -> None:
    """Render every format first, then write the files, then standard output and the job summary."""
    color = use_color(no_color, sys.stdout)
    texts = [(o, render(report, o.fmt, color=color and o.path is None)) for o in outputs]
    try:
        for output, text in texts:
            if output.path is not None:
                write_atomically(output.path, text, force)
        for output, text in texts:
            if output.path is None:
                click.echo(text, nl=False, color=color)
        if any(o.fmt == "github" for o in outputs):
            from .report.github import step_summary

            append_step_summary(step_summary(report))
    except OutputError as err:
        _exit_with(str(err))


def _exit_with(message: str) -> NoReturn:
    """Input the user must fix before anything can be linted (a policy file, a cluster): exit status 2."""
    click.echo(message, err=True)
    sys.exit(2)


WEBHOOK_EXTRA = "pip install 'ippool-validator[webhook]'"


def _require_extra(what: str, *modules: str) -> None:
    """The core install carries what `lint`, `audit` and `rules` need; `serve`, `certs` and `--kubeconfig`
    need the webhook extra. Without it: exit 2 with the pip command that adds it, not an ImportError
    traceback."""
    import importlib.util

    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        _exit_with(f"{what} needs {', '.join(missing)}, which this install of ippool-validator lacks (the "
                   f"webhook extra); add it with: {WEBHOOK_EXTRA}")


def _policy(config_file: str | None) -> Config:
    path = config_file if config_file is not None else find_config()
    if path is None:
        return Config()
    try:
        return load_config(path)
    except ConfigError as err:
        _exit_with(str(err))


def _excluder(config: Config, excludes: tuple[str, ...]) -> Excluder:
    exclude = Excluder()
    try:
        exclude.add(excludes)
    except ExcludeError as err:
        _fail_usage(f"--exclude: {err}")
    try:
        exclude.add(config.exclude, config.folder)
    except ExcludeError as err:
        _exit_with(f"{config.source}:{config.lines.get('exclude', 1)}: exclude: {err}")
    return exclude


NODES_DUMP_MAX_BYTES = 1 << 30  # a 5,000-node `kubectl get nodes -o yaml` is some 50 MB


def _add_nodes_files(cluster: Cluster, paths: list[str], nodes_files: tuple[str, ...],
                     max_file_size: int, exclude: Excluder) -> None:
    """Nodes from dumps; a dump that the PATHs already include is not read twice (its nodes are in).

    A dump with no Node in it (an empty file, the output of a `kubectl get nodes` that failed, the wrong
    file) is a usage error: taking it as "the cluster has no nodes" would silently pass every check of
    stranded nodes, which is exactly what a CI step with a broken dump must not do.
    """
    if not nodes_files:
        return
    linted, _ = discover(paths, exclude)
    already = {os.path.realpath(name) for name in linted}
    found = {os.path.realpath(node.source.file) for node in cluster.nodes}
    extra = Cluster()
    for name in nodes_files:
        if os.path.realpath(name) in already:
            dump = None
        else:
            dump = load_paths([name], max(max_file_size, NODES_DUMP_MAX_BYTES))
            extra.extend(dump)
        if (dump.nodes if dump is not None else os.path.realpath(name) in found):
            continue
        why = ""
        problems = dump.problems if dump is not None else []
        if problems:
            why = f" ({problems[0].source}: {problems[0].message})" if problems[0].source else ""
        elif dump is not None and dump.skipped:
            why = f" ({dump.skipped[0].reason})"
        _exit_with(f"--nodes {name}: holds no Node object{why}; give the output of "
                   "`kubectl get nodes -o yaml` (a dump without nodes would let every stranded-node check "
                   "pass)")
    known = {node.name for node in cluster.nodes}
    cluster.nodes.extend(node for node in extra.nodes if node.name not in known)
    cluster.problems.extend(extra.problems)
    cluster.files += extra.files
    cluster.nodes_known = True


def _add_live_cluster(cluster: Cluster, kubeconfig: str, context: str | None, pools: bool) -> None:
    _require_extra("lint --kubeconfig", "kubernetes")
    from .sources.kube import ClusterReadError, overlay, read_cluster

    try:
        live = read_cluster(kubeconfig, context, pools)
    except ClusterReadError as err:
        _exit_with(str(err))
    overlay(live.cluster, cluster)


@main.command()
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--kubeconfig", type=FILE, default=None,
              help="Read the live cluster through this kubeconfig instead of dumps (read-only, no lock).")
@click.option("--context", "kube_context", default=None, help="The kubeconfig context [default: current].")
@click.option("--pod-status", is_flag=True,
              help="With --kubeconfig, read whole pods instead of their metadata (for dual-stack-mismatch).")
@click.option("--since", "since", multiple=True, type=click.Path(exists=True), metavar="OLD",
              help="An older dump of the same cluster (file or folder, repeatable): forecast from the "
                   "change.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Output format (json: utilisation, findings, summary and forecast).")
@click.option("--fail-on", type=click.Choice(["error", "warning"]), default="error", show_default=True,
              help="Exit 1 when a finding of this severity (or worse) is found.")
@click.option("--config", "config_file", type=FILE, default=None,
              help=f"Policy file [default: {CONFIG_NAME} in the current folder or a parent].")
@click.option("--now", "now_text", default=None, metavar="TIME",
              help="Judge as of this RFC 3339 time [default: the dump's newest file time, or now for a "
                   "cluster].")
@click.option("--show-ignored", is_flag=True, help="Also list the findings that ignore annotations skipped.")
def audit(paths: tuple[str, ...], kubeconfig: str | None, kube_context: str | None, pod_status: bool,
          since: tuple[str, ...], fmt: str, fail_on: str, config_file: str | None, now_text: str | None,
          show_ignored: bool) -> None:
    """Audit Calico IPAM: utilisation in blocks and addresses, leaks, headroom, forecast.

    Reads `kubectl get ... -o json|yaml` dumps in PATHs (IPAMBlock, BlockAffinity, IPAMHandle,
    IPAMConfig/IPAMConfiguration, IPPool, IPReservation, Node, Pod; files or folders), or a live cluster
    with --kubeconfig. Exit status as lint's: 0 no error finding, 1 error findings (or warnings with
    --fail-on warning), 2 usage error or unreadable cluster.
    """
    from .audit.front import run_audit

    if bool(paths) == bool(kubeconfig):
        _fail_usage("give dump PATHs or --kubeconfig (one of them)")
    if (kube_context or pod_status) and not kubeconfig:
        _fail_usage("--context and --pod-status need --kubeconfig")
    if kubeconfig:
        _require_extra("audit --kubeconfig", "kubernetes")
    outcome = run_audit(paths, kubeconfig, kube_context, pod_status, since, fmt, _policy(config_file),
                        now_text, show_ignored)
    if outcome.usage_error:
        _fail_usage(outcome.usage_error)
    if outcome.read_error:
        _exit_with(outcome.read_error)
    click.echo(outcome.text, nl=False)
    failing = outcome.errors + (outcome.warnings if fail_on == "warning" else 0)
    sys.exit(1 if failing else 0)


@main.command("rules")
@click.argument("rule_id", required=False, metavar="[ID]")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: id, severity, summary, calico, helpUri, needs and the doc, for scripts.")
def rules_cmd(rule_id: str | None, fmt: str) -> None:
    """List the rules, or print one rule's documentation."""
    from .rules.catalog import calico_enforces, rule_text

    chosen = list(REGISTRY.values())
    if rule_id is not None:
        found = REGISTRY.get(rule_id)
        if found is None:
            _fail_usage(f"unknown rule {rule_id!r}{_did_you_mean(rule_id, list(REGISTRY))}; "
                        "`ippool-validator rules` lists them")
        chosen = [found]
    if fmt == "json":
        import json

        docs = [_rule_dict(rule, calico_enforces(rule)) for rule in chosen]
        click.echo(json.dumps(docs[0] if rule_id is not None else docs, indent=2))
        return
    if rule_id is not None:
        click.echo(rule_text(chosen[0]), nl=False)
        return
    width = max(len(r) for r in REGISTRY)
    click.echo(f"{'RULE':<{width}}  SEVERITY  CALICO  SUMMARY")
    for rule in chosen:
        calico = "yes" if calico_enforces(rule) else "no"
        click.echo(f"{rule.id:<{width}}  {rule.severity:<8}  {calico:<6}  {rule.summary}")
    click.echo("\nCALICO yes: Calico also rejects it (calicoctl, its API server, CRD rules, "
               "kube-controllers or the operator); no: only ippool-validator checks it. "
               "`ippool-validator rules ID` says which and since when.")


def _did_you_mean(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def _rule_dict(rule: Rule, calico_enforced: bool) -> dict[str, object]:
    return {"id": rule.id, "severity": rule.severity, "summary": rule.summary,
            "calicoEnforces": calico_enforced, "calico": rule.calico or None, "helpUri": rule.help_uri,
            "needsNodes": rule.needs_nodes, "policyKey": rule.needs_config or None, "scope": rule.scope,
            "code": rule.code_path, "cases": rule.cases_path, "doc": rule.doc}


@main.command()
@click.option("--tls-cert", required=True, type=FILE, help="Serving certificate (PEM); "
              "re-read when it changes.")
@click.option("--tls-key", required=True, type=FILE, help="Its private key (PEM).")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8443, show_default=True, help="HTTPS port.")
@click.option("--state", "state", default="cluster", show_default=True, metavar="cluster|DIR",
              help="Cluster state to judge against: the live cluster (listed and watched), or YAML files.")
@click.option("--mode", type=click.Choice(["enforce", "warn"]), default="enforce", show_default=True,
              help="warn: never deny; return what would be denied as admission warnings.")
@click.option("--on-error", type=click.Choice(["deny", "allow"]), default="deny", show_default=True,
              help="Answer to a pool, reservation or Installation write the webhook fails to judge (an "
                   "internal error); Node writes are then always admitted.")
@click.option("--config", "config_file", type=FILE, default=None,
              help="Policy file (rule levels, max-pods, address plan) [default: built-in defaults].")
@click.option("--max-body-bytes", type=click.IntRange(1024), default=DEFAULT_MAX_BODY_BYTES,
              show_default=True,
              help="Refuse AdmissionReview bodies larger than this (413).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes; each watches the cluster itself (see the README).")
@click.option("--threads", type=click.IntRange(1, 256), default=8, show_default=True,
              help="Threads per worker that run the app on whole requests (connections are not threads).")
@click.option("--handshake-timeout", type=click.FloatRange(0.1, 300), default=5.0, show_default=True,
              help="Seconds a client has to finish the TLS handshake.")
@click.option("--header-timeout", type=click.FloatRange(0.1, 300), default=5.0, show_default=True,
              help="Seconds for a request's head: from the handshake on a new connection, from its first "
                   "byte on a kept-alive one.")
@click.option("--body-timeout", type=click.FloatRange(0.1, 300), default=10.0, show_default=True,
              help="Seconds to read a request's body, and to write its answer.")
@click.option("--idle-timeout", type=click.FloatRange(0.1, 3600), default=75.0, show_default=True,
              help="Seconds a kept-alive connection may wait for its next request.")
@click.option("--max-connections", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="Connections held per worker; past it the longest-idle one is closed.")
@click.option("--kubeconfig", type=FILE, default=None,
              help="With --state cluster outside a pod: the kubeconfig [default: in-cluster, "
                   "else $KUBECONFIG].")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
def serve(tls_cert: str, tls_key: str, host: str, port: int, state: str, mode: str, on_error: str,
          config_file: str | None, max_body_bytes: int, workers: int, threads: int, handshake_timeout: float,
          header_timeout: float, body_timeout: float, idle_timeout: float, max_connections: int,
          kubeconfig: str | None, log_level: str) -> None:
    """Serve the validating admission webhook over HTTPS (gunicorn processes, an asyncio TLS front;
    POST /validate, GET /healthz, /readyz, /metrics)."""
    _require_extra("serve", "flask", "gunicorn", "prometheus_client", "kubernetes")
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        import tempfile  # before prometheus_client is imported: it reads this once

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ippool-validator-metrics-")
    from .webhook.launch import ServeError, ServeOptions
    from .webhook.launch import serve as run_server

    config = Config()
    if config_file is not None:
        try:
            config = load_config(config_file)
        except ConfigError as err:
            _fail_usage(str(err))
        except OSError as err:
            _fail_usage(f"--config {config_file}: {err.strerror or err}")
    options = ServeOptions(tls_cert, tls_key, host, port, state, mode, on_error, max_body_bytes, workers,
                           threads, kubeconfig, log_level, handshake_timeout, header_timeout, body_timeout,
                           idle_timeout, max_connections)
    try:
        run_server(options, config)
    except ServeError as err:
        _fail_usage(str(err))


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=9095, show_default=True,
              help="HTTP port of /metrics, /healthz and /readyz (0: any free port).")
@click.option("--interval", type=click.FloatRange(1, 86400), default=60, show_default=True,
              help="Seconds from the start of one audit to the start of the next.")
@click.option("--kubeconfig", type=FILE, default=None,
              help="Kubeconfig [default: in-cluster service account, else $KUBECONFIG or ~/.kube/config].")
@click.option("--context", "kube_context", default=None, help="The kubeconfig context [default: current].")
@click.option("--config", "config_file", type=FILE, default=None,
              help=f"Policy file (audit section, rule levels) [default: {CONFIG_NAME} in the current "
                   "folder or a parent].")
def exporter(host: str, port: int, interval: float, kubeconfig: str | None, kube_context: str | None,
             config_file: str | None) -> None:
    """Publish the IPAM audit as Prometheus metrics (GET /metrics, /healthz, /readyz; docs/metrics.md).

    Every --interval it lists the cluster read-only (paged, no watch, no datastore lock), audits it as
    `audit --kubeconfig` does and replaces the series; a failed audit keeps the last good ones.
    """
    import logging

    _require_extra("exporter", "prometheus_client", "kubernetes")
    from .audit.model import policy_from
    from .exporter.reader import Reader, api_client
    from .exporter.server import Exporter, run
    from .sources.kube import ClusterReadError
    from .sources.kubeapi import Api

    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s", level=logging.INFO)
    policy = policy_from(_policy(config_file))
    try:
        name, client = api_client(kubeconfig, kube_context)
    except ClusterReadError as err:
        _exit_with(str(err))
    reader = Reader(Api(client), name)
    try:
        run(Exporter(reader.read, policy), host, port, interval)
    except OSError as err:
        _exit_with(f"exporter: cannot listen on {host}:{port}: {err.strerror or err}")


@main.command()
@click.option("--service", required=True, help="The webhook's Service name.")
@click.option("--namespace", required=True, help="The Service's namespace.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder to write "
              "ca.crt, tls.crt and tls.key into (created if needed).")
@click.option("--dns", multiple=True, help="An extra DNS name for the certificate (repeatable).")
@click.option("--ip", "ips", multiple=True, help="An extra IP address for the certificate (repeatable).")
@click.option("--days", type=click.IntRange(1, 3650), default=365, show_default=True,
              help="Validity of the serving certificate.")
@click.option("--force", is_flag=True, help="Replace an existing set in --out (its CA stops matching any "
              "caBundle made from it).")
def certs(service: str, namespace: str, out_dir: str, dns: tuple[str, ...], ips: tuple[str, ...],
          days: int, force: bool) -> None:
    """Make a CA and a serving certificate for the webhook's Service; print the base64 CA bundle."""
    from pathlib import Path

    _require_extra("certs", "cryptography")
    from .addresses import AddressError, parse_address
    from .certs import ExistingFiles, existing, make_bundle, write_bundle

    for ip in ips:
        try:
            parse_address(ip)  # refuses an IPv6 zone too
        except AddressError:
            reason = "has an IPv6 zone, which a certificate's IP address cannot hold" if "%" in ip \
                else "is not an IP address"
            _fail_usage(f"--ip {ip!r} {reason}")
    found = [] if force else existing(Path(out_dir))
    if found:
        names = ", ".join(path.name for path in found)
        _fail_usage(f"--out {out_dir} already holds {names}: a new CA would no longer match the caBundle "
                    "made from the old one; say --force to replace them")
    bundle = make_bundle(service, namespace, dns, ips, days)
    try:
        paths = write_bundle(bundle, Path(out_dir), force=force)
    except ExistingFiles as err:  # appeared since the check above
        _fail_usage(f"--out {out_dir} already holds {err}; say --force to replace them")
    except OSError as err:
        raise click.ClickException(f"cannot write the certificates into {out_dir}: {err}; the files there "
                                   "are as they were") from None
    click.echo(f"wrote {', '.join(str(p) for p in paths.values())}", err=True)
    click.echo("caBundle for the ValidatingWebhookConfiguration:", err=True)
    click.echo(bundle.ca_base64)


if __name__ == "__main__":  # pragma: no cover
    main()
