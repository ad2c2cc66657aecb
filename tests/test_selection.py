"""What a lint reads: --exclude and the policy's `exclude:`, Helm chart templates, and YAML that does not
parse and is not ours (skipped, listed with the reason; an error with --strict-parse)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from lint_support import lint_paths
from test_inputs import WITNESS, input_problems, witness_linted, write

from validator.cli import main
from validator.sources.files import load_paths
from validator.sources.selection import HELM_TEMPLATE_REASON, Excluder

TEMPLATE = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: {{ .Values.pool.name }}
spec:
  cidr: {{ .Values.pool.cidr | quote }}
{{- if .Values.pool.selector }}
  nodeSelector: {{ .Values.pool.selector }}
{{- end }}
"""
BROKEN_FOREIGN = {
    "jinja.yaml": "name: {{ name }}\n{% for x in xs %}\n- {{ x }}\n{% endfor %}\n",
    "tabs.yml": "steps:\n\t- run: make\n",
    "unclosed.yaml": "matrix: [a, b\n",
}


def lint_cli(*args: str, cwd: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["lint", *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "witness.yaml", WITNESS)
    return tmp_path


@pytest.mark.parametrize("name", sorted(BROKEN_FOREIGN))
def test_yaml_that_does_not_parse_and_is_not_ours_is_skipped_with_the_reason(repo: Path, name: str) -> None:
    write(repo / "ci" / name, BROKEN_FOREIGN[name])
    linted = lint_paths(repo)
    assert input_problems(linted) == [] and witness_linted(linted)
    [skipped] = linted.result.skipped
    assert skipped.file == str(repo / "ci" / name)
    assert "does not parse as YAML (line " in skipped.reason and "--strict-parse" in skipped.reason
    assert linted.cluster.files == 1, "a skipped file is not counted as linted"


@pytest.mark.parametrize("text,line", [
    ("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: a\n", 4),
    ("kind: Node\napiVersion: v1\nmetadata:\n\tname: a\n", 4),
    ("items:\n- {kind: NodeList, x: [}\n", 2),
    ("---\napiVersion: v1\nkind: Node\nmetadata: {name: a}\n---\nfoo: [\n", 7),
])
def test_yaml_that_does_not_parse_but_looks_like_ours_stays_a_located_error(repo: Path, text: str,
                                                                             line: int) -> None:
    write(repo / "pool.yaml", text)
    problems = input_problems(lint_paths(repo))
    assert [(name, at) for name, at, _ in problems] == [("pool.yaml", line)]
    assert problems[0][2].startswith("YAML syntax error")


def test_strict_parse_makes_a_skipped_file_an_error(repo: Path) -> None:
    write(repo / "jinja.yaml", BROKEN_FOREIGN["jinja.yaml"])
    code, out = lint_cli(".", cwd=repo)
    assert code == 1 and "jinja.yaml: skipped: does not parse as YAML" in out
    assert out.rstrip().endswith("1 file skipped")
    assert "jinja.yaml:2: error yaml-invalid" not in out
    code, out = lint_cli("--strict-parse", ".", cwd=repo)
    assert code == 1 and "jinja.yaml:2: error yaml-invalid: YAML syntax error" in out
    assert "jinja.yaml: skipped" not in out
    lenient = load_paths([str(repo)], strict=True)
    assert lenient.skipped == [] and len(lenient.problems) == 1


def test_skipped_files_are_listed_in_json(repo: Path) -> None:
    write(repo / "jinja.yaml", BROKEN_FOREIGN["jinja.yaml"])
    write(repo / "chart" / "Chart.yaml", "apiVersion: v2\nname: pools\nversion: 0.1.0\n")
    write(repo / "chart" / "templates" / "pool.yaml", TEMPLATE)
    code, out = lint_cli("--format", "json", ".", cwd=repo)
    skipped = json.loads(out)["skipped"]
    assert [(Path(s["file"]).as_posix(), s["reason"][:20]) for s in skipped] == [
        ("chart/templates/pool.yaml", HELM_TEMPLATE_REASON[:20]), ("jinja.yaml", "does not parse as YA")]


@pytest.mark.parametrize("where", ["templates", "templates/sub/deeper"])
def test_helm_chart_templates_are_skipped_even_when_they_would_parse(repo: Path, where: str) -> None:
    chart = repo / "charts" / "calico-pools"
    write(chart / "Chart.yaml", "apiVersion: v2\nname: calico-pools\nversion: 0.1.0\n")
    write(chart / "values.yaml", "pool: {name: x, cidr: 10.0.0.0/16}\n")
    write(chart / where / "pool.yaml", TEMPLATE)
    write(chart / where / "plain.yaml", WITNESS.replace("witness", "templated"))
    linted = lint_paths(repo)
    assert input_problems(linted) == []
    assert sorted(Path(s.file).name for s in linted.result.skipped) == ["plain.yaml", "pool.yaml"]
    assert {s.reason for s in linted.result.skipped} == {HELM_TEMPLATE_REASON}
    assert [p.name for p in linted.cluster.pools] == ["witness"]


def test_a_templates_folder_without_a_chart_is_linted(repo: Path) -> None:
    write(repo / "templates" / "pool.yaml", WITNESS.replace("witness", "not-helm"))
    assert sorted(p.name for p in lint_paths(repo).cluster.pools) == ["not-helm", "witness"]


EXCLUDED = ["vendor/pool.yaml", "docs/a/b/pool.yml", "pools/old.tpl.yaml", "top.yaml"]
KEPT = ["pools/keep.tpl.yaml", "sub/top.yaml", "docs/pool.yaml"]
PATTERNS = ["vendor/", "docs/**/*.yml", "*.tpl.yaml", "!keep.tpl.yaml", "/top.yaml"]


def place(repo: Path, names: list[str]) -> None:
    for name in names:
        write(repo / name, WITNESS.replace("witness", name.replace("/", "-").replace(".", "-")))


def linted_names(cluster_pools: list) -> list[str]:
    return sorted(p.name for p in cluster_pools if p.name != "witness")


def test_exclude_patterns_are_gitignore_style(repo: Path) -> None:
    place(repo, EXCLUDED + KEPT)
    exclude = Excluder()
    exclude.add(PATTERNS)
    cluster = load_paths(["."], exclude=exclude)
    assert linted_names(cluster.pools) == sorted(n.replace("/", "-").replace(".", "-") for n in KEPT)


def test_exclude_on_the_command_line_repeatable(repo: Path) -> None:
    place(repo, EXCLUDED + KEPT)
    args = [part for pattern in PATTERNS for part in ("--exclude", pattern)]
    code, out = lint_cli(*args, "--format", "json", ".", cwd=repo)
    files = {Path(f["file"]).as_posix() for f in json.loads(out)["findings"]}
    assert files == {"witness.yaml", *KEPT}


def test_a_file_named_on_the_command_line_is_read_even_if_excluded(repo: Path) -> None:
    place(repo, ["vendor/pool.yaml"])
    code, out = lint_cli("--exclude", "vendor/", "vendor/pool.yaml", cwd=repo)
    assert "vendor/pool.yaml:" in out and "error cidr-invalid: IPPool/vendor-pool-yaml" in out


def test_policy_exclude_is_relative_to_the_policy_file(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / ".git").mkdir()
    write(repo / ".ippool-validator.yaml", "exclude:\n  - /clusters/a/generated/\n  - '*.draft.yaml'\n")
    place(repo, ["clusters/a/generated/x.yaml", "clusters/a/pool.draft.yaml", "clusters/a/pool.yaml"])
    monkeypatch.chdir(repo / "clusters")
    code, out = lint_cli("--format", "json", ".", cwd=repo / "clusters")
    files = {Path(f["file"]).as_posix() for f in json.loads(out)["findings"]}
    assert files == {"a/pool.yaml"}


@pytest.mark.parametrize("policy,message", [
    ("exclude: charts/\n", "exclude: 'charts/' is not of type array"),
    ("exclude: [charts/, 3]\n", "exclude[1]: 3 is not of type string"),
    ("exclude: ['  ']\n", "exclude[0]: '  ' does not match"),
])
def test_a_bad_exclude_key_exits_2_located(repo: Path, policy: str, message: str) -> None:
    write(repo / ".ippool-validator.yaml", policy)
    result = CliRunner().invoke(main, ["lint", "."])
    assert result.exit_code == 2
    assert f".ippool-validator.yaml:1: {message}" in result.output


@pytest.mark.parametrize("dump", [
    "", "# kubectl failed\n", WITNESS, "apiVersion: v1\nkind: NodeList\nitems: []\n",
    "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}}\n",
    "error: You must be logged in to the server (Unauthorized)\n{{\n",
    "apiVersion: v1\nkind: NodeList\nitems: [\n",
])
@pytest.mark.parametrize("also_a_path", [False, True])
def test_nodes_given_a_file_without_a_node_is_a_usage_error(repo: Path, dump: str, also_a_path: bool) -> None:
    """Taking it as "no nodes" would silently pass every stranded-node check: a failed
    `kubectl get nodes -o yaml > nodes.yaml` step in CI must not pass."""
    write(repo / "cluster" / "nodes.yaml", dump)
    paths = [".", "cluster/nodes.yaml"] if also_a_path else ["witness.yaml"]
    result = CliRunner().invoke(main, ["lint", "--nodes", "cluster/nodes.yaml", *paths])
    assert result.exit_code == 2, result.output
    assert "--nodes cluster/nodes.yaml: holds no Node object" in result.output


def test_nodes_given_a_real_dump_is_read(repo: Path) -> None:
    write(repo / "nodes.yaml", "apiVersion: v1\nkind: NodeList\nitems:\n"
                               "- {apiVersion: v1, kind: Node, metadata: {name: n1}}\n")
    for paths in (["witness.yaml"], ["."]):
        result = CliRunner().invoke(main, ["lint", "--format", "json", "--nodes", "nodes.yaml", *paths])
        assert result.exit_code == 1 and json.loads(result.output)["summary"]["nodes"] == 1
