"""YAML that is not ours never fails a lint: unknown tags are data, a document's kind decides whether we care.

Also what the reader reports inside documents of our kinds, as the API server would refuse them: explicit
scalar tags whose text is not of that type, repeated keys, integers too long to read.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_support import lint_paths, run_cli
from test_inputs import WITNESS, input_problems, witness_linted, write

CLOUDFORMATION = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AWS::StackName}-logs"
      Tags: !If [IsProd, [{Key: env, Value: prod}], !Ref AWS::NoValue]
Outputs:
  Arn:
    Value: !GetAtt Bucket.Arn
  Joined: !Join
    - ""
    - [!Ref Bucket, "/x"]
"""
MKDOCS = """\
site_name: docs
markdown_extensions:
  - pymdownx.emoji:
      emoji_index: !!python/name:material.extensions.emoji.twemoji
      emoji_generator: !!python/name:material.extensions.emoji.to_svg
  - pymdownx.superfences:
      custom_fences:
        - name: mermaid
          format: !!python/object/apply:pymdownx.superfences.fence_code_format {}
"""


ANSIBLE = "- hosts: all\n  vars:\n    pw: !vault |\n      abc\n"


@pytest.mark.parametrize("name,text", [("template.yaml", CLOUDFORMATION), ("mkdocs.yml", MKDOCS),
                                       ("ansible.yml", ANSIBLE)])
def test_files_with_tags_of_other_tools_are_read_and_ignored(tmp_path: Path, name: str, text: str) -> None:
    write(tmp_path / name, text)
    write(tmp_path / "witness.yaml", WITNESS)
    linted = lint_paths(tmp_path)
    assert input_problems(linted) == [] and linted.rules() == ["cidr-invalid"]
    assert witness_linted(linted)


@pytest.mark.parametrize("field", ["cidr: !cidr 10.1.0.1/16", "cidr: !!str 10.1.0.1/16",
                                   "!key cidr: 10.1.0.1/16"])
def test_a_tagged_value_in_one_of_our_objects_is_data(tmp_path: Path, field: str) -> None:
    write(tmp_path / "pool.yaml", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: tagged}\n"
                                  f"spec: !spec\n  {field}\n")
    linted = lint_paths(tmp_path)
    assert input_problems(linted) == []
    assert [(f.resource.name, f.source.line) for f in linted.of("cidr-invalid")] == [("tagged", 5)]


def test_a_tagged_document_of_our_kind_is_read(tmp_path: Path) -> None:
    write(tmp_path / "pool.yaml", "--- !custom\n" + WITNESS)
    assert witness_linted(lint_paths(tmp_path))


@pytest.mark.parametrize("value,problem", [
    ("!!int abc", "'abc' is not an integer"), ("!!int 09", "'09' is not an integer"),
    ("!!int ²", "'²' is not an integer"), ("!!bool maybe", "'maybe' is not a boolean"),
    ("!!float x1", "'x1' is not a number"), ("!!null nothing", "'nothing' is not null"),
    ("!!float .", "'.' is not a number"), ("!!float '1:.'", "'1:.' is not a number"),
])
def test_an_explicit_scalar_tag_that_does_not_fit_is_located(tmp_path: Path, value: str,
                                                              problem: str) -> None:
    write(tmp_path / "pool.yaml", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\n"
                                  f"spec:\n  cidr: 10.1.0.0/16\n  blockSize: {value}\n")
    write(tmp_path / "witness.yaml", WITNESS)
    linted = lint_paths(tmp_path)
    assert input_problems(linted) == [("pool.yaml", 6, problem)]
    assert witness_linted(linted)


@pytest.mark.parametrize("value,expected", [
    ("!!int 0x1A", 26), ("!!int 0b11010", 26), ("!!int 032", 26), ("!!int 0o32", 26), ("!!int 26", 26),
    ("!!int '2_6'", 26), ("1:26", 86), ("1:0", 60), ("-0x1A", -26), ("!!float '26'", 26.0), ("yes", True),
    ("Off", False), ("~", None), ("2026-01-01", "2026-01-01"), ("!!binary aGk=", "aGk="), (".5", 0.5),
    ("1_000", 1000), ("+12", 12), ("!!float .inf", float("inf")), ("1:30.5", 90.5),
])
def test_scalars_are_read_as_yaml_1_1_as_kubectl_reads_them(tmp_path: Path, value: str,
                                                             expected: object) -> None:
    """Timestamps and !!binary stay text, as sigs.k8s.io/yaml turns them into JSON strings."""
    write(tmp_path / "node.yaml", f"apiVersion: v1\nkind: Node\nmetadata:\n  name: n\n  labels: {{}}\n"
                                  f"spec: {{v: {value}}}\n")
    from validator.sources.files import parse_documents

    documents, problems = parse_documents("node.yaml", (tmp_path / "node.yaml").read_text())
    assert problems == []
    assert documents[0].data["spec"]["v"] == expected
    assert type(documents[0].data["spec"]["v"]) is type(expected)


def test_cli_reads_a_cloudformation_template_without_a_finding(tmp_path: Path) -> None:
    write(tmp_path / "stack.yaml", CLOUDFORMATION)
    done = run_cli(["lint", "."], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "yaml-invalid" not in done.stdout and "Traceback" not in done.stderr


@pytest.mark.parametrize("text,line,key,first", [
    ("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec:\n  cidr: 10.1.0.0/16\n"
     "  blockSize: 26\n  cidr: 10.2.0.0/16\n", 7, "cidr", 5),
    ("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p, name: q}\n"
     "spec: {cidr: 10.1.0.0/16}\n", 3, "name", 3),
    ("apiVersion: v1\nkind: NodeList\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata:\n    name: n\n"
     "    labels: {rack: a, zone: b, rack: c}\n", 8, "rack", 8),
])
def test_a_repeated_key_is_an_error_at_the_second(tmp_path: Path, text: str, line: int, key: str,
                                                   first: int) -> None:
    """kubectl's strict field validation refuses an object with a key written twice; PyYAML keeps the last."""
    write(tmp_path / "dup.yaml", text)
    linted = lint_paths(tmp_path)
    [(name, at, message)] = input_problems(linted)
    assert (name, at) == ("dup.yaml", line)
    assert message.startswith(f"duplicate key {key!r} (first at line {first})")
    assert linted.cluster.pools or linted.cluster.nodes, "the rest of the object is still read"


def test_a_repeated_key_in_a_document_of_another_kind_is_not_ours(tmp_path: Path) -> None:
    write(tmp_path / "values.yaml", "kind: Values\nreplicas: 1\nreplicas: 2\n")
    assert input_problems(lint_paths(tmp_path)) == []


def test_merge_keys_are_not_duplicates_and_written_keys_win(tmp_path: Path) -> None:
    write(tmp_path / "pools.yaml",
          "apiVersion: v1\nkind: List\nbase: &base {blockSize: 26, cidr: 10.9.0.0/16}\n"
          "items:\n- apiVersion: projectcalico.org/v3\n  kind: IPPool\n"
          "  metadata: {name: merged}\n  spec:\n    <<: *base\n    cidr: 10.7.0.1/16\n")
    linted = lint_paths(tmp_path)
    assert input_problems(linted) == []
    [pool] = linted.cluster.pools
    assert dict(pool.spec) == {"blockSize": 26, "cidr": "10.7.0.1/16"}


LONG = 5000
INT_FORMS = {
    "decimal": "9" * LONG, "negative": "-" + "9" * LONG, "underscored": "1_" * LONG + "0",
    "binary": "0b" + "1" * (LONG * 4), "octal": "0" + "7" * (LONG * 2), "hex": "0x" + "f" * LONG,
    "sexagesimal": "1" + ":59" * (LONG * 2), "explicit": "!!int '" + "9" * LONG + "'",
}


@pytest.mark.parametrize("form", sorted(INT_FORMS))
def test_an_integer_too_long_to_read_is_located_in_every_yaml_1_1_form(tmp_path: Path, form: str) -> None:
    """Python refuses to turn more than 4,300 digits into an int or back (a ValueError that escaped as a
    traceback); the document is refused at the integer's line and every other file is linted."""
    write(tmp_path / "pool.yaml", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\n"
                                  f"spec:\n  cidr: 10.1.0.0/16\n  blockSize:\n    {INT_FORMS[form]}\n")
    write(tmp_path / "witness.yaml", WITNESS)
    linted = lint_paths(tmp_path)
    [(name, line, message)] = input_problems(linted)
    assert (name, line) == ("pool.yaml", 7)
    assert "integer of" in message and message.endswith("not linted")
    assert witness_linted(linted) and [p.name for p in linted.cluster.pools] == ["witness"]


def test_long_integers_that_can_be_printed_are_read(tmp_path: Path) -> None:
    write(tmp_path / "node.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: n}\n"
                                  f"spec: {{a: {'9' * 4000}, b: 0x{'f' * 3000}, c: {'0' * 6000}1}}\n")
    from validator.sources.files import parse_documents

    [document], problems = parse_documents("node.yaml", (tmp_path / "node.yaml").read_text())
    assert problems == [] and document.data["spec"]["c"] == 1
    assert document.data["spec"]["b"] == 16 ** 3000 - 1


def test_a_long_integer_in_a_cli_run_gives_no_traceback(tmp_path: Path) -> None:
    write(tmp_path / "pool.yaml", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\n"
                                  f"spec: {{cidr: 10.1.0.0/16, blockSize: {'9' * 10_000}}}\n")
    done = run_cli(["lint", "--format", "json", "."], cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert '"rule": "yaml-invalid"' in done.stdout and '"line": 4' in done.stdout


def test_serve_state_dir_with_a_long_integer_loads_the_rest(tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """`serve --state DIR` reads with the linter's loader: the bad document is logged, the worker boots."""
    from validator.webhook.state import StaticState

    write(tmp_path / "bad.yaml", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: bad}\n"
                                 f"spec: {{cidr: 10.1.0.0/16, blockSize: 0x{'f' * 20_000}}}\n")
    write(tmp_path / "witness.yaml", WITNESS)
    state = StaticState(str(tmp_path))
    snapshot = state.current()
    assert snapshot is not None
    assert "bad.yaml:4" in caplog.text and "integer of" in caplog.text


@pytest.mark.parametrize("tag", ["!!int", "!!float", "!!bool", "!!null", "!!str", "!!timestamp", "!!binary",
                                 "!!merge", "!custom", ""])
def test_any_text_under_any_scalar_tag_is_read_or_located_never_raised(tag: str) -> None:
    """Property: whatever the text, reading an object of ours gives data or located findings."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from validator.sources.files import parse_documents

    @settings(max_examples=150, deadline=None)
    @given(st.one_of(st.text(alphabet="0123456789abcdefx_:.+-eE", max_size=12), st.text(max_size=8)))
    def check(text: str) -> None:
        quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for value in (quoted, f"{tag} {quoted}", f"{tag} {text}" if text.strip() else quoted):
            doc = f"apiVersion: v1\nkind: Node\nmetadata: {{name: n}}\nspec: {{v: {value}}}\n"
            documents, problems = parse_documents("n.yaml", doc)
            assert len(documents) + len(problems) >= 1
            assert all(p.source is not None and p.source.line >= 1 for p in problems)

    check()
