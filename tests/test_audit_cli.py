"""`ippool-validator audit` through its command line: formats, exit codes, the JSON contract (checked
against validator/schemas/audit.schema.json) and the forecast from one dump or two."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import ipam_support as s
import jsonschema
import pytest
from click.testing import CliRunner

from validator.cli import main

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
NOW_TEXT = "2026-12-01T09:00:00Z"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["audit", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _validator() -> jsonschema.Draft202012Validator:
    schema_file = Path(str(resources.files("validator") / "schemas" / "audit.schema.json"))  # a package file
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    return s.write_planted(tmp_path / "dump", NOW)


def test_json_output_matches_its_schema_and_the_contract(planted: Path) -> None:
    code, out, _ = run(str(planted), "--format", "json", "--now", NOW_TEXT)
    assert code == 1  # handle-missing is an error
    doc = json.loads(out)
    errors = sorted(_validator().iter_errors(doc), key=str)
    assert not errors, errors[0].message
    pool = doc["utilisation"]["pools"][0]
    assert pool["name"] == "rack-0-ippool" and pool["blockSize"] == 26
    assert pool["blocks"] == {"total": 2, "allocated": 2, "free": 0}
    assert pool["addresses"] == {"total": 128, "inUse": 128, "reserved": 0, "free": 0}
    n0 = next(n for n in doc["utilisation"]["nodes"] if n["name"] == "n0")
    assert (n0["blocks"], n0["maxBlocks"], n0["addressesInUse"], n0["podHeadroom"]) == (2, 2, 127, 0)
    assert {f["rule"] for f in doc["findings"]} == {rule for rule, _ in s.PLANTED.values()}
    assert all(
        set(f) >= {"rule", "severity", "message", "resource", "file", "line", "hint"} for f in doc["findings"]
    )


@pytest.mark.parametrize("mutate", ["drop-handles", "drop-pods", "v3", "yaml"])
def test_json_output_matches_its_schema_for_other_inputs(tmp_path: Path, mutate: str) -> None:
    folder = s.write_planted(
        tmp_path, NOW, s.V3 if mutate == "v3" else s.V1, "yaml" if mutate == "yaml" else "json"
    )
    if mutate.startswith("drop-"):
        next(folder.glob(f"{mutate[5:]}.*")).unlink()
    code, out, _ = run(str(folder), "--format", "json", "--now", NOW_TEXT)
    doc = json.loads(out)
    assert not list(_validator().iter_errors(doc))
    assert (doc["summary"]["handles"] is None) == (mutate == "drop-handles")


def test_text_output_is_a_table_then_findings_then_a_summary(planted: Path) -> None:
    code, out, _ = run(str(planted), "--now", NOW_TEXT)
    lines = out.splitlines()
    assert code == 1
    assert lines[0].split()[:4] == ["POOL", "CIDR", "BLOCK", "BLOCKS"]
    assert any(line.startswith("n0 ") and line.split()[-1] == "0" for line in lines)
    assert any(": error handle-missing: " in line for line in lines)
    assert "forecast (timestamps" in out and "biased towards survivors" in out
    assert lines[-1].startswith("1 error(s), 8 warning(s); 3 pools, 3 nodes, 6 blocks")


@pytest.mark.parametrize("fmt", ["sarif", "github", "junit"])
def test_lint_formats_carry_audit_findings(planted: Path, fmt: str) -> None:
    code, out, _ = run(str(planted), "--format", fmt, "--now", NOW_TEXT)
    assert code == 1 and "handle-missing" in out and "address-leaked" in out
    assert "pool-overlap" not in out  # only the audit's rules are listed


def test_exit_codes_follow_fail_on_and_levels(planted: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules: {handle-missing: warning}\n", encoding="utf-8")
    assert run(str(planted), "--now", NOW_TEXT, "--config", str(policy))[0] == 0
    assert run(str(planted), "--now", NOW_TEXT, "--config", str(policy), "--fail-on", "warning")[0] == 1
    policy.write_text("audit: {pool-free-blocks-threshold: 0}\n", encoding="utf-8")
    code, _, err = run(str(planted), "--config", str(policy))
    assert code == 2 and "pool-free-blocks-threshold" in err


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "give dump PATHs or --kubeconfig"),
        (("missing-folder",), "no such file or folder"),
        (("{dump}", "--now", "yesterday"), "is not an RFC 3339 time"),
        (("{dump}", "--context", "x"), "need --kubeconfig"),
    ],
)
def test_usage_errors_exit_2(planted: Path, args: tuple[str, ...], message: str) -> None:
    code, _, err = run(*(a.format(dump=planted) for a in args))
    assert code == 2 and message in err


def test_broken_dump_is_a_located_finding_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "blocks.json").write_text('{"items": [\n{"kind": "IPAMBlock",\n', encoding="utf-8")
    code, out, _ = run(str(tmp_path), "--now", NOW_TEXT)
    assert code == 1 and f"{tmp_path / 'blocks.json'}:3: error yaml-invalid: not valid JSON" in out


def test_forecast_from_two_dumps_says_days_to_exhaustion(planted: Path, tmp_path: Path) -> None:
    """rack-1-ippool grows from one block to two in a day: two free blocks left means two days."""
    old = tmp_path / "old"
    shutil.copytree(planted, old)
    blocks = json.loads((old / "blocks.json").read_text())
    blocks["items"] = [b for b in blocks["items"] if b["spec"]["cidr"] != "10.0.1.64/26"]
    (old / "blocks.json").write_text(json.dumps(blocks))
    then = (NOW - timedelta(days=1)).timestamp()
    for f in old.iterdir():
        os.utime(f, (then, then))
    code, out, _ = run(str(planted), "--since", str(old), "--format", "json", "--now", NOW_TEXT)
    forecast = json.loads(out)["forecast"]
    assert forecast["basis"] == "two-dumps" and forecast["windowDays"] == pytest.approx(1.0)
    rack1 = next(p for p in forecast["pools"] if p["name"] == "rack-1-ippool")
    assert rack1["blocksPerDay"] == 1.0 and rack1["daysToExhaustion"] == 2.0
    rack0 = next(p for p in forecast["pools"] if p["name"] == "rack-0-ippool")
    assert rack0["blocksPerDay"] == 0.0 and rack0["daysToExhaustion"] is None
    n2 = next(n for n in forecast["nodes"] if n["name"] == "n2")
    assert n2["blocksPerDay"] == 1.0 and n2["daysToExhaustion"] == 1.0  # 1 of its 2 blocks left


def test_forecast_without_timestamps_has_no_basis_and_no_days(tmp_path: Path) -> None:
    items = [
        s.ippool("p", "10.0.0.0/24", "all()", 26),
        s.node("n1", {}),
        s.block("10.0.0.0/26", {1: s.Owner("h", "n1")}, "n1"),
    ]
    s.write(tmp_path / "d.json", items)
    forecast = json.loads(run(str(tmp_path), "--format", "json", "--now", NOW_TEXT)[1])["forecast"]
    assert forecast["basis"] == "none" and forecast["pools"] == []


def test_forecast_from_one_dump_counts_recent_claims_and_says_it_is_biased(tmp_path: Path) -> None:
    items = [
        s.ippool("p", "10.0.0.0/24", "all()", 26),
        s.node("n1", {}),
        s.block(
            "10.0.0.0/26",
            {1: s.pod_owner("a", "b", "n1", NOW - timedelta(days=1))},
            "n1",
            claimed=NOW - timedelta(days=1),
        ),
        s.block("10.0.0.64/26", {}, "n1", claimed=NOW - timedelta(days=30)),
    ]
    s.write(tmp_path / "d.json", items)
    forecast = json.loads(run(str(tmp_path), "--format", "json", "--now", NOW_TEXT)[1])["forecast"]
    assert forecast["basis"] == "timestamps" and "survivors" in forecast["note"]
    pool = forecast["pools"][0]
    assert pool["blocksPerDay"] == pytest.approx(1 / 7, abs=1e-3)
    assert pool["daysToExhaustion"] == pytest.approx(2 / (1 / 7), rel=0.01)


def test_help_lists_the_command() -> None:
    result = CliRunner().invoke(main, ["audit", "--help"])
    assert result.exit_code == 0 and "--since OLD" in result.output and "--kubeconfig" in result.output


def test_the_readme_shows_what_audit_prints_on_the_examples() -> None:
    repo = Path(__file__).resolve().parent.parent
    readme = (repo / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Auditing Calico IPAM", 1)[1].split("\n## ", 1)[0]
    shown = section.split("```text\n", 1)[1].split("```", 1)[0]
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        code, out, _ = run("examples/", "--now", "2026-12-01T09:00:00Z")
    finally:
        os.chdir(cwd)
    assert code == 0 and out == shown
    assert "address-leaked" in out and "192.168.1.10 " not in out  # the one within grace is not reported
