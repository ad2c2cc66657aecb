"""The JSON report keeps the contract its shipped schema (validator/schemas/report.schema.json) writes down:
every report of every fixture folder validates, in each of the ways lint can be run, and its paths are
relative as in the other formats."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from lint_support import FIXTURES, REPO
from test_formats import crafted_report

from validator.cli import main
from validator.report import render
from validator.report.jsonout import VERSION, schema

FOLDERS = sorted(p for p in FIXTURES.rglob("*") if p.is_dir() and any(p.glob("*.y*ml")))


def validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(schema())
    return Draft202012Validator(schema())


def assert_valid(doc: dict) -> None:
    errors = sorted(validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def test_the_schema_is_shipped_and_versioned() -> None:
    shipped = REPO / "validator" / "schemas" / "report.schema.json"
    assert json.loads(shipped.read_text()) == schema()
    assert schema()["properties"]["version"] == {"const": VERSION}
    assert schema()["$id"].endswith(f"/v{VERSION}.json")


def test_there_are_many_fixture_folders() -> None:
    assert len(FOLDERS) >= 20


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_fixture_report_validates_with_relative_paths(folder: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "repo"
    shutil.copytree(folder, work, symlinks=True)
    monkeypatch.chdir(work)
    runs = [["lint", "--format", "json", "--show-ignored"],
            ["lint", "--format", "json", "--fail-if-no-objects-found", str(work)]]
    for args in runs:
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code in (0, 1), result.output
        doc = json.loads(result.output)
        assert_valid(doc)
        assert doc["version"] == VERSION
        files = [f["file"] for f in doc["findings"] if f["file"]]
        files += [r["file"] for f in doc["findings"] for r in f["related"]]
        assert not any(name.startswith("/") or "\\" in name for name in files), files
        assert sum(r["findings"] for r in doc["summary"]["byRule"]) == len(doc["findings"])


def test_a_crafted_report_with_unusual_places_validates() -> None:
    doc = json.loads(render(crafted_report(), "json"))
    assert_valid(doc)
    assert [f["file"] for f in doc["findings"]] == ["dir/a,b: c.yaml", "cluster:prod/nodes/n", None, "x.yaml"]


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(version=2),
    lambda d: d["summary"].pop("errors"),
    lambda d: d["findings"][0].update(severity="fatal"),
    lambda d: d["findings"][0].update(extra=1),
    lambda d: d["summary"]["byRule"].append({"rule": "x", "severity": "error", "findings": 0}),
])
def test_the_schema_rejects_reports_that_break_the_contract(mutate) -> None:
    doc = json.loads(render(crafted_report(), "json"))
    mutate(doc)
    assert list(validator().iter_errors(doc))
