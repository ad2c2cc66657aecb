"""What `lint` prints and writes, beyond the finding lines: hints, colour, several formats from one lint,
files written whole or not at all, the GitHub job summary, and paths that hold no Calico object.

Each case runs in a copy of an e2e fixture folder under tmp_path (see test_cli.py).
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from lint_support import FIXTURES, REPO
from test_cli import parse_text_hints
from test_formats import assert_valid_sarif, junit, parse_commands

from validator.cli import main
from validator.model import Finding, Resource, Source
from validator.outputs import OutputError, write_atomically
from validator.report import Report, render
from validator.report.github import SUMMARY_MAX_BYTES, step_summary

E2E = FIXTURES / "e2e"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def racks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "racks"
    shutil.copytree(E2E / "racks", target, symlinks=True)
    monkeypatch.chdir(target)
    for name in ("NO_COLOR", "FORCE_COLOR", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    return target


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, ["lint", *args], env=env, catch_exceptions=False)


# Hints and counts

def test_every_finding_shows_its_hint_under_it(racks: Path) -> None:
    findings, hints, _ = parse_text_hints(invoke().output)
    expected = json.loads(invoke("--format", "json").output)["findings"]
    assert len(findings) == len(expected) == 5
    assert hints == [f["hint"] for f in expected] and all(hints)


def test_counts_per_rule_come_before_the_summary(racks: Path) -> None:
    lines = invoke().output.splitlines()
    table = lines[lines.index("") + 1:-1]
    assert [line.split() for line in table] == [
        ["2", "error", "pool-overlap"], ["1", "error", "node-unselected"],
        ["1", "warning", "fallback-missing"], ["1", "warning", "pool-selects-nothing"]]


def test_a_clean_run_prints_only_the_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(E2E / "clean", tmp_path / "clean")
    monkeypatch.chdir(tmp_path / "clean")
    assert invoke().output.count("\n") == 1


# Colour

@pytest.mark.parametrize(("env", "args", "coloured"), [
    ({}, [], False),  # CliRunner's stdout is no terminal
    ({"FORCE_COLOR": "1"}, [], True),
    ({"FORCE_COLOR": "1"}, ["--no-color"], False),
    ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, [], False),
    ({"FORCE_COLOR": "1", "NO_COLOR": ""}, [], True),  # no-color.org: only a non-empty NO_COLOR counts
])
def test_colour_follows_the_switches(racks: Path, env: dict[str, str], args: list[str],
                                     coloured: bool) -> None:
    out = invoke(*args, env=env).output
    assert bool(ANSI.search(out)) == coloured
    assert ANSI.sub("", out) == invoke().output


@pytest.mark.parametrize("fmt", ["json", "sarif", "github", "junit"])
def test_only_text_is_ever_coloured(racks: Path, fmt: str) -> None:
    assert not ANSI.search(invoke("--format", fmt, env={"FORCE_COLOR": "1"}).output)


def run_on_pty(args: list[str], cwd: Path, extra_env: dict[str, str]) -> str:
    """The real command with a terminal as its standard output, as a user at a shell runs it."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(PYTHONPATH=str(REPO), **extra_env)
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "validator.cli", *args], cwd=cwd, stdout=slave,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        os.close(slave)
        chunks = []
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, "no output from the command within 60 s"
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=60) == 1
    finally:
        os.close(master)
    return b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.mark.parametrize(("env", "args", "coloured"), [
    ({}, [], True), ({"NO_COLOR": "1"}, [], False), ({}, ["--no-color"], False)])
def test_a_terminal_gets_colour_unless_told_not_to(racks: Path, env: dict[str, str], args: list[str],
                                                   coloured: bool) -> None:
    out = run_on_pty(["lint", *args], racks, env)
    assert bool(ANSI.search(out)) == coloured
    assert "\x1b[1;31merror\x1b[0m" in out if coloured else "error" in out
    assert ANSI.sub("", out) == invoke().output


# Several formats from one lint, files written whole

def test_one_lint_renders_several_formats(racks: Path) -> None:
    (racks / "reports").mkdir()
    result = invoke("--format", "sarif=out.sarif", "--format", "junit=reports/out.xml", "--format", "text",
                    "--format", "json=out.json")
    assert result.exit_code == 1
    assert result.output == invoke().output
    assert (racks / "out.sarif").read_text() == invoke("--format", "sarif").output
    assert (racks / "reports" / "out.xml").read_text() == invoke("--format", "junit").output
    assert json.loads((racks / "out.json").read_text()) == json.loads(invoke("--format", "json").output)
    assert_valid_sarif((racks / "out.sarif").read_text())
    junit((racks / "reports" / "out.xml").read_text())


def test_output_takes_the_format_without_a_file(racks: Path) -> None:
    result = invoke("--format", "sarif=out.sarif", "--format", "json", "--output", "out.json")
    assert (result.exit_code, result.output) == (1, "")
    assert_valid_sarif((racks / "out.sarif").read_text())
    assert json.loads((racks / "out.json").read_text())["summary"]["errors"] == 3
    assert invoke("-o", "plain.txt", env={"FORCE_COLOR": "1"}).output == ""
    assert (racks / "plain.txt").read_text() == invoke().output  # a file is never coloured
    assert not ANSI.search((racks / "plain.txt").read_text())


@pytest.mark.parametrize(("args", "message"), [
    (["--format", "json", "--format", "sarif"], "would all go to standard output"),
    (["--format", "json=a.json", "--output", "b.json"], "--output FILE is for the one --format"),
    (["--format", "json", "--format", "text", "--output", "b.json"], "2 formats have none"),
    (["--format", "json=a.json", "--format", "sarif=./a.json"], "named for both json and sarif"),
    (["--format", "xml=a.xml"], "Invalid value for '--format'"),
    (["--format", "sarif="], "names no file"),
    (["--format", "sarif=missing/out.sarif"], "no such folder"),
    (["--format", "sarif=pools"], "is a folder"),
])
def test_unusable_output_plans_are_usage_errors(racks: Path, args: list[str], message: str) -> None:
    before = sorted(p.name for p in racks.rglob("*"))
    result = CliRunner().invoke(main, ["lint", *args])
    assert result.exit_code == 2 and message in result.output
    assert sorted(p.name for p in racks.rglob("*")) == before  # nothing written, no temporary file left


def test_an_existing_file_is_kept_unless_force(racks: Path) -> None:
    (racks / "out.sarif").write_text("previous run\n")
    result = CliRunner().invoke(main, ["lint", "--format", "text", "--format", "sarif=out.sarif",
                                       "--format", "junit=new.xml"])
    assert result.exit_code == 2 and "out.sarif: exists; pass --force" in result.output
    assert (racks / "out.sarif").read_text() == "previous run\n"
    assert not (racks / "new.xml").exists()  # refused before linting: no file of the run is written
    forced = invoke("--format", "sarif=out.sarif", "--format", "junit=new.xml", "--force")
    assert forced.exit_code == 1
    assert_valid_sarif((racks / "out.sarif").read_text())


def test_a_run_that_fails_writes_no_file(racks: Path) -> None:
    (racks / "bad-policy.yaml").write_text("rules: {no-such-rule: off}\n")
    result = CliRunner().invoke(main, ["lint", "--config", "bad-policy.yaml", "--format", "sarif=out.sarif",
                                       "--format", "junit=out.xml", "pools"])
    assert result.exit_code == 2
    assert not list(racks.glob("out.*")) and not list(racks.glob(".out.*"))


def test_a_failed_write_leaves_neither_file_nor_temporary(racks: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    result = CliRunner().invoke(main, ["lint", "--format", "sarif=out.sarif"])
    assert result.exit_code == 2 and "out.sarif: cannot write: No space left on device" in result.output
    assert not list(racks.glob("*out.sarif*"))


def test_a_file_that_appears_meanwhile_is_not_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "out.sarif"
    target.write_text("someone else's\n")
    with pytest.raises(OutputError, match="exists"):
        write_atomically(str(target), "ours\n", force=False)
    assert target.read_text() == "someone else's\n" and os.listdir(tmp_path) == ["out.sarif"]
    write_atomically(str(target), "ours\n", force=True)
    assert target.read_text() == "ours\n" and os.listdir(tmp_path) == ["out.sarif"]


def test_a_written_file_has_the_usual_permissions(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_atomically(str(tmp_path / "a.json"), "{}\n", force=False)
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640


# The GitHub job summary

def test_github_format_appends_a_job_summary(racks: Path) -> None:
    summary = racks.parent / "step-summary.md"
    summary.write_text("## an earlier step\n")
    result = invoke("--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 1
    text = summary.read_text()
    assert text.startswith("## an earlier step\n## ippool-validator\n")
    assert "**3 errors, 2 warnings in 4 files (3 pools, 2 nodes)**" in text
    assert re.search(r"^\| \[`pool-overlap`\]\(\S+#pool-overlap\) \| error \| 2 \|$", text, re.M)
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [row.split(" | ")[0] for row in rows] == [
        "| `nodes/nodes.yml:11`", "| `pools/rack-pools.yaml:2`", "| `pools/rack-pools.yaml:2`",
        "| `pools/rack-pools.yaml:2`", "| `pools/rack-pools.yaml:12`"]
    assert all("<br>Hint: " in row for row in rows)


def test_no_job_summary_without_the_variable_or_the_format(racks: Path) -> None:
    summary = racks.parent / "step-summary.md"
    invoke("--format", "sarif", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert not summary.exists()
    assert invoke("--format", "github", env={"GITHUB_STEP_SUMMARY": ""}).exit_code == 1


def many_findings(count: int, message: str = "overlap | of <b>x</b>\nsecond line") -> Report:
    pool = Resource("projectcalico.org/v3", "IPPool", "p")
    return Report([Finding("pool-overlap", "error", f"{message} {i}", pool, Source("pools.yaml", i), "h")
                   for i in range(count)], files=1, pools=count, nodes_known=True, objects=count)


def test_the_job_summary_lists_what_annotations_cannot() -> None:
    text = step_summary(many_findings(25))
    assert "GitHub shows only the first 10 error and 10 warning annotations" in text
    rows = [line for line in text.splitlines() if line.startswith("| `pools.yaml:")]
    assert len(rows) == 25
    assert rows[3].endswith("| overlap \\| of &lt;b&gt;x&lt;/b&gt;<br>second line 3<br>Hint: h |")
    assert all(row.count(" | ") == 3 for row in rows)  # the escaped pipe splits no cell
    assert "first 10" not in step_summary(many_findings(10))


def test_the_job_summary_stays_within_githubs_limit() -> None:
    text = step_summary(many_findings(6000, "x" * 300))
    assert len(text.encode()) <= SUMMARY_MAX_BYTES
    shown = sum(1 for line in text.splitlines() if line.startswith("| `pools.yaml:"))
    assert 1000 < shown < 6000 and f"... and {6000 - shown} more findings" in text


# Paths that hold no Calico object

@pytest.fixture
def not_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of YAML that holds no Calico object: a workflow, a Deployment and a Node dump."""
    (tmp_path / "ci.yaml").write_text("on: push\njobs: {build: {runs-on: ubuntu-latest}}\n")
    (tmp_path / "app.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n")
    (tmp_path / "nodes.yaml").write_text("apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_no_calico_objects_is_said_plainly_in_text(not_ours: Path) -> None:
    result = invoke(".")
    assert result.exit_code == 0
    assert result.output == ("0 errors, 0 warnings in 3 files (0 pools, 1 node); no Calico objects found "
                             "in .\n")
    failing = invoke("--fail-if-no-objects-found", "ci.yaml", "app.yaml")
    assert failing.exit_code == 1
    assert ("no Calico objects found in ci.yaml, app.yaml (an error: --fail-if-no-objects-found)"
            in failing.output)


def test_no_calico_objects_in_every_format(not_ours: Path) -> None:
    doc = json.loads(invoke("--format", "json").output)
    assert doc["notices"] == ["no Calico objects found in ."] and doc["summary"]["calicoObjects"] == 0
    sarif = assert_valid_sarif(invoke("--format", "sarif").output)
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert {"level": "note", "message": {"text": "no Calico objects found in ."}} in notes
    failing = assert_valid_sarif(invoke("--format", "sarif", "--fail-if-no-objects-found").output)
    assert failing["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["level"] == "error"
    suite = junit(invoke("--format", "junit").output)
    assert suite.findtext("system-out") == "no Calico objects found in ." and suite.get("failures") == "0"
    suite = junit(invoke("--format", "junit", "--fail-if-no-objects-found").output)
    [case] = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert case.get("name") == "calico-objects-found"
    commands = parse_commands(invoke("--format", "github").output)
    assert commands == [{"level": "notice", "title": "ippool-validator",
                         "message": "no Calico objects found in ."}]
    failing_commands = parse_commands(invoke("--format", "github", "--fail-if-no-objects-found").output)
    assert failing_commands[0]["level"] == "error"


def test_an_empty_folder_and_stdin_count_as_no_objects(not_ours: Path) -> None:
    (not_ours / "empty").mkdir()
    assert "no Calico objects found in empty" in invoke("empty").output
    result = CliRunner().invoke(main, ["lint", "--fail-if-no-objects-found", "-"], input="kind: ConfigMap\n")
    assert result.exit_code == 1 and "no Calico objects found in <stdin>" in result.output


def test_paths_with_a_calico_object_get_no_notice(racks: Path) -> None:
    result = invoke("--fail-if-no-objects-found", "pools")
    assert "no Calico objects" not in result.output and result.exit_code == 1  # the pools' own errors
    doc = json.loads(invoke("--format", "json", "--fail-if-no-objects-found", "pools").output)
    assert doc["notices"] == [] and doc["summary"]["calicoObjects"] == 3
    assert invoke("--fail-if-no-objects-found", "pools/default-pool.yaml").exit_code == 0


def test_a_report_nobody_counted_objects_for_has_no_notice() -> None:
    report = Report([], files=0)
    assert report.no_objects_notice() == ""
    assert ET.fromstring(render(report, "junit")).find("testsuite/system-out") is None
