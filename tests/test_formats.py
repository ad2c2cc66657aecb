"""CI output formats: SARIF validates against the SARIF 2.1.0 schema (tests/schemas, with the OASIS errata 01
rules applied), JUnit is XML whose counts add up, and every GitHub workflow-command line parses back to
the finding it came from."""

from __future__ import annotations

import copy
import json
import os
import re
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft4Validator

from validator import __version__
from validator.cli import main
from validator.model import Finding, Related, Resource, Source
from validator.report import Report, render
from validator.rules import REGISTRY

LINT_RULES = [rule_id for rule_id, rule in REGISTRY.items() if rule.target == "lint"]  # lint reports these

SCHEMAS = Path(__file__).parent / "schemas"

POOLS_A = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: default}
spec: {cidr: 10.244.0.0/16, nodeSelector: has(rack)}
"""
POOLS_B = """\
# Rack pools, added later
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: rack-1}
spec: {cidr: 10.244.1.0/24, nodeSelector: rack == "1"}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: legacy
  annotations:
    ippool-validator.io/ignore: pool-selects-nothing
    ippool-validator.io/ignore-reason: kept for the old batch nodes
spec: {cidr: 10.245.0.0/24, nodeSelector: rack == "9"}
"""
NODES = """\
apiVersion: v1
kind: NodeList
items:
- {apiVersion: v1, kind: Node, metadata: {name: n1, labels: {rack: "1"}}}
"""
# In the repository below: pool-overlap (error, pools/b.yaml:2, related pools/a.yaml:1), fallback-missing
# (warning), and pool-selects-nothing on `legacy`, which its annotation ignores.
EXPECTED = {("pool-overlap", "error"), ("fallback-missing", "warning")}


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pools").mkdir()
    (tmp_path / "pools" / "a.yaml").write_text(POOLS_A)
    (tmp_path / "pools" / "b.yaml").write_text(POOLS_B)
    (tmp_path / "nodes.yaml").write_text(NODES)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def lint(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["lint", *args])
    return result.exit_code, result.stdout


@cache
def sarif_schema() -> dict[str, Any]:
    return errata01(json.loads((SCHEMAS / "sarif-2.1.0-rtm.5.json").read_text()))


def errata01(schema: dict[str, Any]) -> dict[str, Any]:
    """The two constraints the OASIS errata 01 schema adds to rtm.5 (see tests/schemas/README.md)."""
    schema = copy.deepcopy(schema)
    definitions = schema["definitions"]
    definitions["region"]["anyOf"] = [{"required": ["startLine"]}, {"required": ["charOffset"]},
                                      {"required": ["byteOffset"]}]
    for name in ("run", "toolComponent"):
        definitions[name]["properties"]["language"]["pattern"] = "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$"
    return schema


def assert_valid_sarif(text: str) -> dict[str, Any]:
    doc = json.loads(text)
    Draft4Validator.check_schema(sarif_schema())
    errors = sorted(Draft4Validator(sarif_schema()).iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    return doc


# SARIF

def test_sarif_validates_and_locates_each_result(repo: Path) -> None:
    code, out = lint("--format", "sarif")
    assert code == 1
    doc = assert_valid_sarif(out)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("ippool-validator", __version__)
    assert [r["id"] for r in rules] == LINT_RULES  # no audit rule in a lint report
    assert {(r["ruleId"], r["level"]) for r in run["results"]} == EXPECTED
    overlap = next(r for r in run["results"] if r["ruleId"] == "pool-overlap")
    assert rules[overlap["ruleIndex"]]["id"] == "pool-overlap"
    location = overlap["locations"][0]["physicalLocation"]
    assert location == {"artifactLocation": {"uri": "pools/b.yaml", "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": 2}}
    [related] = overlap["relatedLocations"]
    assert related["physicalLocation"]["artifactLocation"]["uri"] == "pools/a.yaml"
    assert related["message"]["text"] == "IPPool/default"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.resolve().as_uri() + "/"


def test_sarif_rules_carry_their_documentation(repo: Path) -> None:
    run = json.loads(lint("--format", "sarif")[1])["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    for rule_id in LINT_RULES:
        rule, descriptor = REGISTRY[rule_id], rules[rule_id]
        assert descriptor["shortDescription"]["text"] == rule.summary
        assert descriptor["help"]["markdown"] == rule.doc and "## Why is this bad?" in rule.doc
        assert descriptor["helpUri"] == rule.help_uri and descriptor["helpUri"].endswith("#" + rule_id)
        assert descriptor["defaultConfiguration"]["level"] == rule.severity
        assert descriptor["fullDescription"]["text"] and "##" not in descriptor["fullDescription"]["text"]


def test_sarif_fingerprints_ignore_line_moves(repo: Path) -> None:
    before = json.loads(lint("--format", "sarif")[1])["runs"][0]["results"]
    (repo / "pools" / "b.yaml").write_text("# one more comment line\n" + POOLS_B)
    after = json.loads(lint("--format", "sarif")[1])["runs"][0]["results"]
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in before] != [
        r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in after]
    assert [r["partialFingerprints"] for r in before] == [r["partialFingerprints"] for r in after]
    assert len({json.dumps(r["partialFingerprints"]) for r in before}) == len(before)


def test_sarif_show_ignored_adds_suppressed_results(repo: Path) -> None:
    doc = assert_valid_sarif(lint("--format", "sarif", "--show-ignored")[1])
    [suppressed] = [r for r in doc["runs"][0]["results"] if "suppressions" in r]
    assert suppressed["ruleId"] == "pool-selects-nothing"
    assert suppressed["suppressions"] == [{"kind": "inSource", "status": "accepted",
                                           "justification": "kept for the old batch nodes"}]
    plain = json.loads(lint("--format", "sarif")[1])["runs"][0]["results"]
    assert not any("suppressions" in r for r in plain)


def test_sarif_without_nodes_notes_the_skipped_rules(repo: Path) -> None:
    (repo / "nodes.yaml").unlink()
    doc = assert_valid_sarif(lint("--format", "sarif")[1])
    [note] = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert "node-unselected" in note["message"]["text"] and "no nodes known" in note["message"]["text"]


def crafted_report() -> Report:
    """Findings that stress locations and escaping: odd file names, a live object, no place at all."""
    pool = Resource("projectcalico.org/v3", "IPPool", "p")
    return Report([
        Finding("pool-overlap", "error", "100% overlap,\nsee: other", pool, Source("dir/a,b: c.yaml", 7),
                "a hint", (Related(Resource("v1", "Node", "n"), Source("cluster:prod/nodes/n", 1)),)),
        Finding("node-unselected", "error", "stranded", Resource("v1", "Node", "n"),
                Source("cluster:prod/nodes/n", 1), subject="IPv4"),
        Finding("fallback-missing", "warning", "no fallback", None, None, subject="IPv6"),
        Finding("no-such-rule", "warning", "from a newer plug-in", None, Source("x.yaml", 0)),
    ], files=1, pools=1, nodes=1, nodes_known=True)


def test_sarif_of_unusual_locations_still_validates() -> None:
    doc = assert_valid_sarif(render(crafted_report(), "sarif"))
    odd, live, nowhere, unknown = doc["runs"][0]["results"]
    assert odd["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "dir/a%2Cb%3A%20c.yaml"
    assert odd["relatedLocations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "cluster:prod/nodes/n"
    assert live["locations"][0]["logicalLocations"][0]["name"] == "Node/n"
    assert "locations" not in nowhere
    assert "ruleIndex" not in unknown and "region" not in unknown["locations"][0]["physicalLocation"]


# GitHub workflow commands

COMMAND = re.compile(r"^::(?P<level>error|warning|notice)(?: (?P<props>[^:]*))?::(?P<message>.*)$")


def unescape(text: str) -> str:
    return (text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",")
            .replace("%25", "%"))


def parse_commands(text: str) -> list[dict[str, str]]:
    parsed = []
    for line in text.splitlines()[:-1]:  # the last line is the summary
        match = COMMAND.match(line)
        assert match, f"not a workflow command: {line!r}"
        props = dict(pair.split("=", 1) for pair in (match["props"] or "").split(",") if pair)
        parsed.append({"level": match["level"], "message": unescape(match["message"]),
                       **{k: unescape(v) for k, v in props.items()}})
    return parsed


def test_github_lines_parse_back_to_the_findings(repo: Path) -> None:
    code, out = lint("--format", "github")
    assert code == 1
    commands = parse_commands(out)
    assert {(c["title"], c["level"]) for c in commands} == EXPECTED
    overlap = next(c for c in commands if c["title"] == "pool-overlap")
    assert (overlap["file"], overlap["line"]) == ("pools/b.yaml", "2")
    assert overlap["message"].startswith("IPPool/rack-1 (10.244.1.0/24) overlaps IPPool/default")
    assert "\nHint: " in overlap["message"]
    assert out.splitlines()[-1].startswith("1 error, 1 warning in 3 files")


def test_github_show_ignored_adds_notices(repo: Path) -> None:
    commands = parse_commands(lint("--format", "github", "--show-ignored")[1])
    notices = [c for c in commands if c["level"] == "notice"]
    assert [(n["title"], n["file"]) for n in notices] == [("pool-selects-nothing (ignored)", "pools/b.yaml")]
    assert notices[0]["message"].endswith("Ignored by annotation: kept for the old batch nodes")


def test_github_escapes_data_and_properties() -> None:
    out = render(crafted_report(), "github")
    first = out.splitlines()[0]
    assert first.startswith(
        "::error file=dir/a%2Cb%3A c.yaml,line=7,title=pool-overlap::100%25 overlap,%0Asee: ")
    commands = parse_commands(out)
    assert commands[0]["file"] == "dir/a,b: c.yaml"
    assert commands[0]["message"].startswith("100% overlap,\nsee: ")
    assert "file" not in commands[1] and commands[1]["message"].startswith("cluster:prod/nodes/n: stranded")
    assert "file" not in commands[2] and "line" not in commands[3]


# JUnit

def junit(text: str) -> ET.Element:
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    cases = suite.findall("testcase")
    counts = {"tests": len(cases), "failures": sum(1 for c in cases if c.find("failure") is not None),
              "errors": 0, "skipped": sum(1 for c in cases if c.find("skipped") is not None)}
    for element in (root, suite):
        assert {k: int(element.get(k, "-1")) for k in counts} == counts
    return suite


def test_junit_counts_add_up(repo: Path) -> None:
    code, out = lint("--format", "junit")
    assert code == 1 and out.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    suite = junit(out)
    failures = [(c.get("classname"), c.find("failure").get("type")) for c in suite.iter("testcase")
                if c.find("failure") is not None]
    assert sorted(failures) == sorted((f"ippool-validator.{rule}", level) for rule, level in EXPECTED)
    assert int(suite.get("tests")) == len(LINT_RULES)  # each lint rule once: passing, or a case per finding
    overlap = next(c for c in suite.iter("testcase") if c.get("classname") == "ippool-validator.pool-overlap")
    assert (overlap.get("file"), overlap.get("line")) == ("pools/b.yaml", "2")
    assert "related: IPPool/default at pools/a.yaml:1" in overlap.find("failure").text


def test_junit_skips_node_rules_without_nodes_and_lists_ignored(repo: Path) -> None:
    (repo / "nodes.yaml").unlink()
    suite = junit(lint("--format", "junit", "--show-ignored")[1])
    skipped = {c.get("classname").split(".", 1)[1]: c.find("skipped").get("message")
               for c in suite.iter("testcase") if c.find("skipped") is not None}
    assert {r for r, rule in REGISTRY.items() if rule.needs_nodes} <= set(skipped)
    assert all("no nodes known" in message for message in skipped.values())


def test_junit_show_ignored_marks_the_ignored_finding_skipped(repo: Path) -> None:
    suite = junit(lint("--format", "junit", "--show-ignored")[1])
    [ignored] = [c for c in suite.iter("testcase") if c.find("skipped") is not None]
    assert ignored.get("classname") == "ippool-validator.pool-selects-nothing"
    assert ignored.find("skipped").get("message") == "ignored by annotation: kept for the old batch nodes"


def test_junit_of_unusual_findings_is_well_formed() -> None:
    suite = junit(render(crafted_report(), "junit"))
    assert int(suite.get("failures")) == 4
    names = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert "node-unselected: Node/n [IPv4] (cluster:prod/nodes/n)" in names


@pytest.mark.parametrize("fmt", ["sarif", "github", "junit", "json", "text"])
def test_a_clean_repository_renders_in_every_format(fmt: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pool.yaml").write_text(POOLS_A.replace("has(rack)", "all()"))
    monkeypatch.chdir(tmp_path)
    code, out = lint("--format", fmt)
    assert code == 0 and out
    if fmt == "sarif":
        assert assert_valid_sarif(out)["runs"][0]["results"] == []
    if fmt == "junit":
        assert int(junit(out).get("failures")) == 0
    if fmt == "github":
        assert parse_commands(out) == []


def _pathlib_relative(file: str) -> str:
    """What relative_path answered when it used pathlib (the reading it must keep)."""
    path = Path(file)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            return path.as_posix()
    return Path(os.path.normpath(path)).as_posix()


@pytest.mark.parametrize("shape", ["relative", "dotted", "doubled", "inside", "inside-linked", "here",
                                   "outside", "outside-dotted", "stdin"])
def test_ci_formats_locate_files_as_pathlib_did(shape: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """relative_path uses os.path (pathlib is slow to import); it answers as the pathlib version did for files
    below the current folder, through a symlinked folder, the folder itself and files outside it."""
    from validator.report.locations import relative_path

    real = tmp_path / "real"
    (real / "pools").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    monkeypatch.chdir(tmp_path / "link")  # the current folder is reached through a symlink
    link = tmp_path / "link"
    file = {
        "relative": "pools/a.yaml", "dotted": "./pools/../pools/a.yaml", "doubled": "pools//a.yaml",
        "inside": str(real / "pools" / "a.yaml"), "inside-linked": str(link / "pools" / "a.yaml"),
        "here": str(real), "outside": str(tmp_path / "other.yaml"),
        "outside-dotted": f"{tmp_path}/./x//other.yaml", "stdin": "<stdin>",
    }[shape]
    expected = file if shape == "stdin" else _pathlib_relative(file)
    assert relative_path(file) == expected
