"""The lint and rules commands end to end: fixture folders, exit codes, text and JSON output, stdin, usage.

Each case runs in a copy of its folder under tmp_path, so that paths in the output are short and relative
and no policy file of the repository applies.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from lint_support import FIXTURES, REPO, run_cli

from validator.rules import REGISTRY

E2E = FIXTURES / "e2e"
FINDING_LINE = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+): (?P<severity>error|warning) (?P<rule>[a-z0-9-]+): (?P<msg>.+)$")

RACKS_LOCATIONS = [
    ("nodes/nodes.yml", 11, "error", "node-unselected"),
    ("pools/rack-pools.yaml", 2, "warning", "fallback-missing"),
    ("pools/rack-pools.yaml", 2, "error", "pool-overlap"),
    ("pools/rack-pools.yaml", 2, "warning", "pool-selects-nothing"),
    ("pools/rack-pools.yaml", 12, "error", "pool-overlap"),
]
RACKS_SUMMARY = "3 errors, 2 warnings in 4 files (3 pools, 2 nodes)"


@pytest.fixture
def case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Copy an e2e fixture folder into tmp_path and work from there."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(E2E / name, target, symlinks=True)
        monkeypatch.chdir(target)
        return target

    return copy


HINT_LINE = re.compile(r"^  hint: (?P<hint>\S.*)$")
COUNT_LINE = re.compile(r"^ *(?P<n>\d+)  (?P<severity>error|warning) *  (?P<rule>[a-z0-9-]+)$")


def parse_text_hints(output: str) -> tuple[list[tuple[str, int, str, str, str]], list[str], str]:
    """The whole text format: finding lines, each with an optional indented hint under it; a blank line and
    the counts per rule (which must add up to the findings, errors first); the summary last."""
    *lines, summary = output.rstrip("\n").split("\n")
    findings: list[tuple[str, int, str, str, str]] = []
    hints: list[str] = []
    counts: list[tuple[str, str, int]] = []
    for number, line in enumerate(lines):
        if line == "" and not counts:
            rows = lines[number + 1:]
            counts = [(m["rule"], m["severity"], int(m["n"])) for m in map(COUNT_LINE.match, rows)
                      if m or pytest.fail(f"not a count line: {rows!r}")]
            break
        hint = HINT_LINE.match(line)
        if hint:
            assert findings and len(hints) == len(findings), f"a hint under no finding: {line!r}"
            hints[-1] = hint["hint"]
            continue
        match = FINDING_LINE.match(line)
        assert match, f"not 'file:line: severity rule: message': {line!r}"
        findings.append((match["file"], int(match["line"]), match["severity"], match["rule"], match["msg"]))
        hints.append("")
    expected = Counter((f[3], f[2]) for f in findings)
    assert {(rule, severity): n for rule, severity, n in counts} == expected
    assert [c[1] for c in counts] == sorted((c[1] for c in counts), key=["error", "warning"].index)
    return findings, hints, summary


def parse_text(output: str) -> tuple[list[tuple[str, int, str, str, str]], str]:
    findings, _, summary = parse_text_hints(output)
    return findings, summary


def test_text_output_locates_each_finding_sorted_with_a_summary(case, cli) -> None:
    case("racks")
    result = cli(["lint", "."])
    assert result.exit_code == 1
    findings, summary = parse_text(result.output)
    assert [f[:4] for f in findings] == RACKS_LOCATIONS
    assert summary == RACKS_SUMMARY
    overlap = findings[2][4]
    assert overlap.startswith("IPPool/rack-0-ippool (192.168.0.0/24) overlaps IPPool/default-ipv4-ippool "
                              "(192.168.0.0/16) at pools/default-pool.yaml:2")
    assert "192.168.0.0/24" in overlap.rsplit(":", 1)[1]
    assert "Node/kube-node-2 (rack=2)" in findings[0][4]
    assert "rack: '1', '2'" in findings[3][4]


def test_no_path_lints_the_current_folder(case, cli) -> None:
    case("racks")
    assert cli(["lint"]).output == cli(["lint", "."]).output


def test_json_output(case, cli) -> None:
    case("racks")
    result = cli(["lint", "--format", "json", "pools", "nodes", "apps"])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    summary = doc["summary"]
    assert {k: summary[k] for k in ("errors", "warnings", "files", "pools", "nodes")} == {
        "errors": 3, "warnings": 2, "files": 4, "pools": 3, "nodes": 2}
    assert [(f["file"], f["line"], f["severity"], f["rule"]) for f in doc["findings"]] == RACKS_LOCATIONS
    for finding in doc["findings"]:
        assert set(finding) >= {"rule", "severity", "message", "resource", "file", "line", "hint"}
        assert finding["message"] and finding["hint"]
    overlap = doc["findings"][2]
    assert overlap["resource"] == {"apiVersion": "projectcalico.org/v3", "kind": "IPPool",
                                   "name": "rack-0-ippool"}
    assert overlap["related"] == [{"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool",
                                   "name": "default-ipv4-ippool", "file": "pools/default-pool.yaml",
                                   "line": 2}]
    assert doc["findings"][1]["resource"] is None  # fallback-missing is about the family, not one object


def test_clean_folder_exits_zero(case, cli) -> None:
    case("clean")
    result = cli(["lint", "."])
    assert (result.exit_code, result.output) == (0, "0 errors, 0 warnings in 2 files (3 pools, 2 nodes)\n")
    doc = json.loads(cli(["lint", "--format", "json"]).output)
    assert doc["findings"] == [] and doc["summary"]["errors"] == 0


def test_warnings_pass_unless_fail_on_warning(case, cli) -> None:
    case("warnings-only")
    passing = cli(["lint"])
    assert passing.exit_code == 0
    findings, summary = parse_text(passing.output)
    assert [f[:4] for f in findings] == [("pools.yaml", 2, "warning", "fallback-missing")]
    assert summary.startswith("0 errors, 1 warning in 1 file (1 pool, 0 nodes); node rules skipped")
    assert cli(["lint", "--fail-on", "warning"]).exit_code == 1
    assert cli(["lint", "--fail-on", "error"]).exit_code == 0


def test_broken_file_is_reported_and_the_others_still_linted(case, cli) -> None:
    case("broken")
    result = cli(["lint"])
    assert result.exit_code == 1
    findings, summary = parse_text(result.output)
    assert [f[:4] for f in findings] == [("a-broken.yaml", 7, "error", "yaml-invalid"),
                                         ("b-pool.yaml", 4, "error", "cidr-invalid")]
    assert findings[0][4].startswith("YAML syntax error: ")
    assert summary.startswith("2 errors, 0 warnings in 2 files (1 pool, 0 nodes)")


def test_stdin_alone_and_beside_folders(case, cli) -> None:
    case("racks")
    pools = Path("pools/rack-pools.yaml").read_text()
    alone = cli(["lint", "-"], input=pools)
    findings, summary = parse_text(alone.output)
    assert alone.exit_code == 0
    assert [f[:4] for f in findings] == [("<stdin>", 2, "warning", "fallback-missing")]
    assert summary.startswith("0 errors, 1 warning in 1 file (2 pools, 0 nodes)")
    mixed = cli(["lint", "-", "nodes", "pools/default-pool.yaml"], input=pools)
    findings, summary = parse_text(mixed.output)
    assert mixed.exit_code == 1
    assert [(f[0], f[1], f[3]) for f in findings] == [
        ("<stdin>", 2, "fallback-missing"), ("<stdin>", 2, "pool-overlap"),
        ("<stdin>", 2, "pool-selects-nothing"), ("<stdin>", 12, "pool-overlap"),
        ("nodes/nodes.yml", 11, "node-unselected")]
    assert summary == "3 errors, 2 warnings in 3 files (3 pools, 2 nodes)"


@pytest.mark.parametrize(("args", "names"), [
    (["lint", "--bogus"], ["--bogus"]),
    (["lint", "does-not-exist"], ["no such file or folder: does-not-exist"]),
    (["lint", "--format", "xml", "."], ["--format", "xml"]),
    (["lint", "--fail-on", "never", "."], ["--fail-on", "never"]),
    (["rules", "no-such-rule"], ["unknown rule 'no-such-rule'; "]),  # nothing close: no suggestion
    (["rules", "pool-overlp"], ["unknown rule 'pool-overlp' (did you mean 'pool-overlap'?)"]),
    (["rules", "--format", "json", "Pool-Overlap"], ["(did you mean 'pool-overlap'?)"]),
    (["rules", "cidr-invalide"], ["did you mean 'cidr-invalid'"]),
    (["frobnicate"], ["frobnicate"]),
])
def test_usage_errors_exit_2_with_a_message(case, args: list[str], names: list[str]) -> None:
    """The message names what was wrong; click's own sentences around it are click's, not asserted."""
    folder = case("clean")
    done = run_cli(args, cwd=folder)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.strip() and all(name in done.stderr for name in names), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stdout == ""


def test_real_command_matches_the_in_process_run(case, cli) -> None:
    folder = case("racks")
    done = run_cli(["lint"], cwd=folder)
    assert done.returncode == 1
    assert done.stdout == cli(["lint"]).output
    assert done.stderr == ""
    piped = run_cli(["lint", "--format", "json", "-"], cwd=folder,
                    input=(folder / "pools" / "rack-pools.yaml").read_text())
    assert piped.returncode == 0
    assert [f["file"] for f in json.loads(piped.stdout)["findings"]] == ["<stdin>"]


def test_rules_lists_every_rule(cli) -> None:
    result = cli(["rules"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["RULE", "SEVERITY", "CALICO", "SUMMARY"]
    rows = [line for line in lines[1:] if line and not line.startswith("CALICO")]
    listed = {line.split()[0]: line.split()[1:3] for line in rows}
    for rule_id in REGISTRY:
        assert rule_id in listed
    assert listed["pool-overlap"] == ["error", "yes"] and listed["fallback-missing"] == ["warning", "no"]
    assert listed["cidr-reserved"] == ["error", "no"]  # loopback and multicast: Calico accepts them


def test_rules_id_prints_the_rule_doc(cli) -> None:
    result = cli(["rules", "pool-overlap"])
    assert result.exit_code == 0
    assert result.output.startswith("# pool-overlap (error)\n\nTwo pools whose CIDRs overlap.\n")
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert heading in result.output


@pytest.mark.parametrize(("command", "options"), [
    ("lint", ["--format FORMAT[=FILE]", "--output", "--force", "--no-color", "--fail-if-no-objects-found"]),
    ("rules", ["--format [text|json]"]),
])
def test_help_names_the_options(cli, command: str, options: list[str]) -> None:
    result = cli([command, "--help"])
    assert result.exit_code == 0
    for option in options:
        assert option in result.output


def test_rules_as_json_carry_what_the_registry_holds(cli) -> None:
    result = cli(["rules", "--format", "json"])
    assert result.exit_code == 0
    listed = json.loads(result.output)
    assert [r["id"] for r in listed] == list(REGISTRY)
    for entry in listed:
        rule = REGISTRY[entry["id"]]
        assert (entry["severity"], entry["summary"], entry["doc"], entry["helpUri"]) == (
            rule.severity, rule.summary, rule.doc, rule.help_uri)
        assert entry["needsNodes"] is rule.needs_nodes and entry["policyKey"] == (rule.needs_config or None)
        assert (REPO / entry["code"]).is_file() and (REPO / entry["cases"]).is_dir(), entry["id"]
    by_id = {r["id"]: r for r in listed}
    assert by_id["pool-overlap"]["calicoEnforces"] and not by_id["fallback-missing"]["calicoEnforces"]
    one = json.loads(cli(["rules", "--format", "json", "pool-overlap"]).output)
    assert one == by_id["pool-overlap"]


# What a lint must not import (issue 15: it starts no slower than yamllint): the other front ends' packages,
# our commands other than lint, and what only a rare input needs. Each is imported where it is used.
NOT_FOR_LINT = (
    "flask", "werkzeug", "gunicorn", "kubernetes", "cryptography", "prometheus_client",
    "validator.audit", "validator.webhook", "validator.exporter", "validator.certs", "validator.sources.kube",
    "validator.sources.kubeapi", "validator.rules.catalog",
    "jsonschema",  # only to explain an object the compiled schema checker refused
    "pathspec",  # only when there are patterns to exclude
    "difflib",  # only to guess at a misspelt name
    "pathlib", "urllib.parse",  # os.path serves; pathlib costs some 1.5 ms to import
)
# each format's renderer modules (the GitHub summary is the text one)
RENDERERS = {"text": {"text"}, "json": {"jsonout"}, "sarif": {"sarif"}, "github": {"github", "text"},
             "junit": {"junit"}}
# dataclasses cost ~0.3 ms each to define: lint's modules use NamedTuples and plain classes; Config stays one
# because the webhook narrows it with dataclasses.replace
LINT_DATACLASSES = ["validator.config.Config"]
PROBE = """\
import dataclasses, json, sys
from validator.cli import main
try:
    main(["lint", "--format", sys.argv[1], "."])
except SystemExit as done:
    assert done.code == 1, done.code
defined = sorted(f"{name}.{value.__name__}" for name, module in list(sys.modules.items())
                 if name.startswith("validator") for value in vars(module).values()
                 if isinstance(value, type) and value.__module__ == name and dataclasses.is_dataclass(value))
print(json.dumps({"modules": sorted(sys.modules), "dataclasses": defined}), file=sys.stderr)
"""


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_lint_imports_only_what_it_uses(case, fmt: str) -> None:
    """The lint path stays light for pre-commit: run it in a fresh interpreter and look at sys.modules.

    `-S` with the site folders on PYTHONPATH: no .pth file runs, so an editable install's import hook (which
    imports pathlib) cannot hide what lint itself imports.
    """
    folder = case("racks")
    path = os.pathsep.join([str(REPO), *site.getsitepackages()])
    done = subprocess.run([sys.executable, "-S", "-c", PROBE, fmt], cwd=folder, capture_output=True,
                          text=True, check=False, env={"PYTHONPATH": path, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr  # and lint's own exit code was 1: the racks' errors
    probe = json.loads(done.stderr.strip().splitlines()[-1])
    loaded = set(probe["modules"])
    assert {"yaml", "validator.engine", "validator.rules.pool_overlap"} <= loaded  # the probe sees imports
    allowed = {"pathlib", "urllib.parse"} if fmt == "sarif" else set()  # SARIF's artifact URIs
    assert sorted(m for m in NOT_FOR_LINT if m in loaded and m not in allowed) == []
    renderers = {f"validator.report.{module}" for modules in RENDERERS.values() for module in modules}
    assert loaded & renderers == {f"validator.report.{module}" for module in RENDERERS[fmt]}
    assert probe["dataclasses"] == LINT_DATACLASSES


def test_a_nodes_dump_named_with_nodes_may_exceed_max_file_size(cli, tmp_path) -> None:
    """--max-file-size guards against stray files in a repository; a dump named with --nodes is meant."""
    dump = tmp_path / "nodes.yaml"
    node = "- apiVersion: v1\n  kind: Node\n  metadata:\n    name: n{}\n    labels: {{rack: '1'}}\n"
    items = "".join(node.format(i) for i in range(40))
    dump.write_text("apiVersion: v1\nkind: List\nitems:\n" + items, encoding="utf-8")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "big.yaml").write_text("# " + "x" * 2000 + "\n", encoding="utf-8")
    result = cli(["lint", "--format", "json", "--max-file-size", "1000", "--nodes", str(dump), str(repo)])
    report = json.loads(result.output)
    assert report["summary"]["nodes"] == 40
    assert [(f["rule"], f["file"]) for f in report["findings"]] == [("yaml-invalid", str(repo / "big.yaml"))]
