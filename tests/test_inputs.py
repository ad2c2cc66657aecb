"""Bad input never escapes as a traceback: each problem is a located yaml-invalid finding, the rest is linted.

Also how manifests are read: folders, Lists, the operator's Installation, Node dumps, line numbers.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from lint_support import Linted, lint_paths, run_cli

from validator.sources.files import (
    DEFAULT_MAX_FILE_BYTES,
    MAX_EXPANDED_NODES,
    MAX_NESTING,
    PathError,
    discover,
    load_paths,
    read_text,
)

POOL = "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {{name: {name}}}\nspec: {{cidr: {cidr}}}\n"
# A pool whose cidr has host bits set: proof that a file was linted is its cidr-invalid finding.
WITNESS = POOL.format(name="witness", cidr="10.99.0.1/16")


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def input_problems(linted: Linted) -> list[tuple[str, int, str]]:
    return [(Path(f.source.file).name, f.source.line, f.message) for f in linted.of("yaml-invalid")]


def witness_linted(linted: Linted) -> bool:
    return any(f.resource and f.resource.name == "witness" for f in linted.of("cidr-invalid"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write(tmp_path / "witness.yaml", WITNESS)
    return tmp_path


def test_binary_file_is_located_at_its_first_nul(folder: Path) -> None:
    write(folder / "image.yaml", b"apiVersion: v1\nkind: Node\n\x89PNG\x00\x01\x02")
    linted = lint_paths(folder)
    assert input_problems(linted) == [("image.yaml", 3, "binary file (NUL byte); not YAML")]
    assert witness_linted(linted)


def test_invalid_utf8_is_located_at_the_bad_byte(folder: Path) -> None:
    write(folder / "latin1.yaml", b"apiVersion: v1\nkind: Node\nmetadata:\n  name: caf\xe9\n")
    linted = lint_paths(folder)
    assert input_problems(linted) == [
        ("latin1.yaml", 4, "not valid UTF-8 (byte 0xe9); YAML must be UTF-8")]
    assert witness_linted(linted)


def test_utf16_with_byte_order_mark_is_read(tmp_path: Path) -> None:
    write(tmp_path / "u16.yaml", POOL.format(name="wide", cidr="10.0.0.1/8").encode("utf-16"))
    linted = lint_paths(tmp_path)
    assert input_problems(linted) == []
    assert [f.resource.name for f in linted.of("cidr-invalid")] == ["wide"]


def billion_laughs(levels: int = 10) -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused(folder: Path) -> None:
    write(folder / "bomb.yaml", "# laughs\nkind: Node\napiVersion: v1\n" + billion_laughs())
    linted = lint_paths(folder)
    assert input_problems(linted) == [(
        "bomb.yaml", 2,
        f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} nodes (an alias bomb?); not linted")]
    assert witness_linted(linted)


def test_alias_bomb_in_a_document_of_another_kind_is_never_built(folder: Path) -> None:
    """Only documents of kinds we read are built, so a bomb elsewhere costs its parse and nothing more."""
    write(folder / "bomb.yaml", "kind: ConfigMap\napiVersion: v1\n" + billion_laughs(12))
    linted = lint_paths(folder)
    assert input_problems(linted) == [] and witness_linted(linted)


def test_alias_bomb_hidden_behind_shared_wrappers_is_refused(folder: Path) -> None:
    """Each level is referenced from a wrapper that is reached after the level itself; the count once
    missed those references and let a 10^11-node document through (str() of its labels then hung)."""
    lines = ["kind: List", "apiVersion: v1", "items:", "- &l0 [x, x, x, x, x, x, x, x, x]"]
    for k in range(1, 12):
        lines.append(f"- &l{k} [[{', '.join([f'*l{k - 1}'] * 9)}], [*l{k - 1}]]")
    lines.append("- {apiVersion: v1, kind: Node, metadata: {name: n, labels: {a: *l11}}}")
    write(folder / "sneaky.yaml", "\n".join(lines) + "\n")
    linted = lint_paths(folder)
    assert [(name, line) for name, line, _ in input_problems(linted)] == [("sneaky.yaml", 1)]
    assert linted.cluster.nodes == []
    assert witness_linted(linted)


def test_recursive_alias_is_read_without_hanging(tmp_path: Path) -> None:
    write(tmp_path / "loop.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: n\n"
                                  "  labels: &l {a: b, self: *l}\n")
    linted = lint_paths(tmp_path)
    assert input_problems(linted) == []
    assert [n.name for n in linted.cluster.nodes] == ["n"]


def test_file_over_the_size_limit_is_refused_without_reading_it(folder: Path) -> None:
    big = folder / "huge.yaml"
    with open(big, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # 50 MB, sparse: no need to write it
    linted = lint_paths(folder)
    assert input_problems(linted) == [(
        "huge.yaml", 1, f"file is larger than the {DEFAULT_MAX_FILE_BYTES:,}-byte limit; not linted")]
    assert linted.of("yaml-invalid")[0].hint == "raise --max-file-size, or split the file"
    assert witness_linted(linted)
    assert DEFAULT_MAX_FILE_BYTES < 50 * 1024 * 1024


def test_size_limit_applies_to_what_is_read_too(tmp_path: Path) -> None:
    path = write(tmp_path / "pools.yaml", WITNESS * 40)
    text, problem = read_text(str(path), max_bytes=1000)
    assert text is None and problem is not None
    assert problem.source.line == 1
    assert problem.message == "file is larger than the 1,000-byte limit; not linted"


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0,
                    reason="root reads a chmod 000 file anyway; the other read errors cover the path")
def test_unreadable_file_chmod_000(folder: Path) -> None:
    secret = write(folder / "secret.yaml", WITNESS.replace("witness", "secret"))
    secret.chmod(0)
    try:
        linted = lint_paths(folder)
    finally:
        secret.chmod(0o644)
    assert input_problems(linted) == [("secret.yaml", 1, "cannot read: Permission denied")]
    assert witness_linted(linted)


def test_unreadable_dangling_link_is_located_and_the_rest_linted(folder: Path) -> None:
    """Works as root too: a link whose target is gone fails to open for everybody."""
    os.symlink(folder / "gone.yaml", folder / "moved.yaml")
    linted = lint_paths(folder)
    assert input_problems(linted) == [("moved.yaml", 1, "cannot read: No such file or directory")]
    assert witness_linted(linted)


def test_read_error_on_a_folder_opened_as_a_file(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").mkdir()
    text, problem = read_text(str(tmp_path / "x.yaml"), DEFAULT_MAX_FILE_BYTES)
    assert text is None and problem is not None
    assert problem.rule == "yaml-invalid" and problem.message == "cannot read: Is a directory"


def test_folder_named_like_a_manifest_is_walked(tmp_path: Path) -> None:
    write(tmp_path / "pools.yaml" / "witness.yaml", WITNESS)
    linted = lint_paths(tmp_path)
    assert input_problems(linted) == [] and witness_linted(linted)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_in_a_folder_is_reported_not_opened(folder: Path) -> None:
    os.mkfifo(folder / "pipe.yaml")
    done = run_cli(["lint", "--format", "text", str(folder)], timeout=30)  # a hang would time out
    assert done.returncode == 1, done.stderr
    assert f"{folder / 'pipe.yaml'}:1: error yaml-invalid: not a regular file (a FIFO, socket or device); " \
           "not read" in done.stdout
    assert "witness" in done.stdout and "Traceback" not in done.stderr


def test_folder_loop_is_reported_once_and_not_followed(folder: Path) -> None:
    write(folder / "sub" / "more.yaml", POOL.format(name="more", cidr="10.1.0.0/16"))
    os.symlink("..", folder / "sub" / "up")
    os.symlink(".", folder / "here")
    linted = lint_paths(folder)
    problems = input_problems(linted)
    assert sorted((name, line) for name, line, _ in problems) == [("here", 1), ("up", 1)]
    assert all(message.startswith("folder loop: ") and message.endswith("; not followed")
               for _, _, message in problems)
    assert sorted(p.name for p in linted.cluster.pools) == ["more", "witness"]


def test_links_to_one_folder_from_many_places_are_walked_once(tmp_path: Path) -> None:
    """Two links per level to the next level: 2**24 paths, but 25 folders."""
    for level in range(25):
        (tmp_path / f"d{level}").mkdir()
    for level in range(24):
        for link in ("a", "b"):
            os.symlink(tmp_path / f"d{level + 1}", tmp_path / f"d{level}" / link)
    write(tmp_path / "d24" / "witness.yaml", WITNESS)
    files, problems = discover([str(tmp_path / "d0")])
    assert problems == []
    assert len(files) == 1 and files[0].endswith("witness.yaml")


def test_hidden_folders_git_and_other_suffixes_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / ".git" / "config.yaml", POOL.format(name="in-git", cidr="10.1.0.0/16"))
    write(tmp_path / ".github" / "workflow.yml", POOL.format(name="in-hidden", cidr="10.2.0.0/16"))
    write(tmp_path / "notes.txt", POOL.format(name="in-txt", cidr="10.3.0.0/16"))
    write(tmp_path / "a" / "b" / "deep.yml", POOL.format(name="deep-yml", cidr="10.4.0.0/16"))
    write(tmp_path / "top.yaml", POOL.format(name="top-yaml", cidr="10.5.0.0/16"))
    files, problems = discover([str(tmp_path)])
    assert problems == []
    assert sorted(Path(f).name for f in files) == ["deep.yml", "top.yaml"]
    explicit = lint_paths(tmp_path / "notes.txt", tmp_path / ".git" / "config.yaml")
    assert sorted(p.name for p in explicit.cluster.pools) == ["in-git", "in-txt"]


def test_a_file_named_twice_is_read_once(folder: Path) -> None:
    linted = lint_paths(folder, folder / "witness.yaml", folder / "." / "witness.yaml")
    assert linted.cluster.files == 1 and [p.name for p in linted.cluster.pools] == ["witness"]


def test_missing_path_is_a_usage_error_not_a_finding(tmp_path: Path) -> None:
    with pytest.raises(PathError, match="no such file or folder: .*nothing-here"):
        load_paths([str(tmp_path / "nothing-here")])


def test_deep_flow_nesting_is_refused_in_process(folder: Path) -> None:
    write(folder / "deep.yaml", "key: " + "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1) + "\n")
    write(folder / "fine.yaml", "key: " + "[" * 300 + "]" * 300 + "\n")
    linted = lint_paths(folder)
    assert input_problems(linted) == [("deep.yaml", 1, f"YAML nests more than {MAX_NESTING} levels deep; "
                                                       "not linted")]
    assert witness_linted(linted)


@pytest.mark.parametrize("text", [
    pytest.param("[" * 100_000 + "]" * 100_000 + "\n", id="flow"),
    pytest.param("- " * 30_000 + "x\n", id="compact-block"),
    pytest.param("a:\n" + "".join(" " * (i + 1) + "b:\n" for i in range(3000)), id="indented-block"),
])
def test_nesting_that_crashed_the_parser_is_a_finding(folder: Path, text: str) -> None:
    """In a subprocess: PyYAML's C composer recurses per level and used to kill the interpreter.

    Which check refuses the file depends on the PyYAML release (ours, or libyaml's own depth limit since
    PyYAML 6.0.4, with its own wording): what is ours is one located `yaml-invalid` finding for the file."""
    write(folder / "deep.yaml", text)
    done = run_cli(["lint", str(folder)])
    assert done.returncode == 1, done.stderr
    deep = [line for line in done.stdout.splitlines() if line.startswith(str(folder / "deep.yaml"))]
    located = r".*/deep\.yaml:[1-9]\d*: error yaml-invalid: YAML .+"
    assert len(deep) == 1 and re.fullmatch(located, deep[0]), deep
    assert "witness" in done.stdout and "Traceback" not in done.stderr


def test_syntax_error_keeps_the_documents_before_it(tmp_path: Path) -> None:
    write(tmp_path / "half.yaml", WITNESS + "---\nkind: [\n")
    linted = lint_paths(tmp_path)
    assert [(n, line) for n, line, _ in input_problems(linted)] == [("half.yaml", 7)]
    assert witness_linted(linted)


def test_unhashable_key_is_a_located_finding(tmp_path: Path) -> None:
    write(tmp_path / "keys.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  labels: {[a]: b}\n")
    linted = lint_paths(tmp_path)
    problems = input_problems(linted)
    assert [(n, line) for n, line, _ in problems] == [("keys.yaml", 4)]
    assert problems[0][2].startswith("unhashable key: ")  # our builder's message (no longer PyYAML's)


def test_empty_comment_only_and_foreign_documents_are_skipped_silently(tmp_path: Path) -> None:
    write(tmp_path / "empty.yaml", "")
    write(tmp_path / "comments.yaml", "# nothing here\n")
    write(tmp_path / "other.yaml", "---\n42\n---\n- a\n---\nnull\n---\n"
                                   "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n---\n"
                                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n---\n"
                                   "kind: IPPool\nspec: {cidr: 10.0.0.1/8}\n")
    linted = lint_paths(tmp_path)
    assert linted.result.findings == []
    assert (linted.cluster.files, linted.cluster.pools, linted.cluster.nodes) == (3, [], [])


def test_wrong_shapes_inside_known_kinds_never_raise(tmp_path: Path) -> None:
    write(tmp_path / "shapes.yaml", """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: [not, a, mapping]
spec: 42
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: odd, annotations: {1: 2, ippool-validator.io/ignore: [x]}, labels: null}
spec: {cidr: [10.0.0.0/8], blockSize: 26.5, allowedUses: Workload, nodeSelector: 5, 1: x}
---
apiVersion: projectcalico.org/v3
kind: IPReservation
metadata: {name: r}
spec: {reservedCIDRs: [5, null, {a: b}, 10.0.0.0/8]}
---
apiVersion: v1
kind: Node
metadata: {name: n, labels: {a: [1, 2]}}
status: {allocatable: {pods: many}}
---
apiVersion: operator.tigera.io/v1
kind: Installation
metadata: {name: default}
spec: {calicoNetwork: {ipPools: [5, {cidr: 7}, {cidr: 10.0.0.0/8, blockSize: x}]}}
---
apiVersion: v1
kind: List
items: [1, null, {kind: Node}]
""")
    linted = lint_paths(tmp_path)
    assert input_problems(linted) == []
    assert "schema-invalid" in linted.rules()
    assert all(f.source is not None and f.source.line >= 1 for f in linted.result.findings)


def test_lists_give_each_item_its_own_line_and_kind(tmp_path: Path) -> None:
    write(tmp_path / "lists.yaml", """\
apiVersion: projectcalico.org/v3
kind: IPPoolList
items:
- metadata: {name: from-calicoctl}
  spec: {cidr: 10.0.0.0/16}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata: {name: n1, labels: {rack: "1"}}
  status: {allocatable: {pods: "64"}, capacity: {pods: "110"}}
- apiVersion: crd.projectcalico.org/v1
  kind: IPPool
  metadata: {name: in-list}
  spec: {cidr: 10.1.0.0/16}
---
apiVersion: v1
kind: NodeList
items:
- apiVersion: v1
  kind: Node
  metadata: {name: n2}
""")
    cluster = lint_paths(tmp_path).cluster
    assert [(p.name, p.resource.api_version, p.source.line) for p in cluster.pools] == [
        ("from-calicoctl", "projectcalico.org/v3", 4), ("in-list", "crd.projectcalico.org/v1", 14)]
    assert [(n.name, n.source.line, n.max_pods, dict(n.labels)) for n in cluster.nodes] == [
        ("n1", 10, 64, {"rack": "1"}), ("n2", 22, None, {})]
    assert cluster.nodes_known


def test_installation_entries_are_pools_with_the_operators_defaults(tmp_path: Path) -> None:
    write(tmp_path / "installation.yaml", """\
apiVersion: operator.tigera.io/v1
kind: Installation
metadata:
  name: default
spec:
  calicoNetwork:
    ipPools:
    - name: v4
      cidr: 192.168.0.0/16
    - cidr: "fd00:10::/48"
      nodeSelector: zone == "a"
      encapsulation: VXLAN
""")
    cluster = lint_paths(tmp_path).cluster
    v4, v6 = cluster.pools
    assert (v4.name, v4.origin, v4.source.line, v4.block_size, v4.node_selector) == (
        "v4", "operator", 8, 26, "all()")
    assert (v4.spec["ipipMode"], v4.spec["vxlanMode"], v4.spec["natOutgoing"]) == ("Always", "Never", True)
    assert (v6.source.line, v6.block_size, v6.node_selector) == (10, 122, 'zone == "a"')
    assert (v6.spec["vxlanMode"], v6.spec["natOutgoing"]) == ("Always", False)
    assert v6.name  # the operator names an unnamed pool; ours is stable and not empty


def test_stdin_is_read_as_a_file_named_stdin(cli) -> None:
    result = cli(["lint", "-"], input=WITNESS)
    assert result.exit_code == 1
    assert result.output.splitlines()[0].startswith("<stdin>:4: error cidr-invalid: IPPool/witness: ")


def test_stdin_over_the_limit_is_a_finding(cli) -> None:
    result = cli(["lint", "--max-file-size", "100", "-"], input=WITNESS * 5)
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "<stdin>:1: error yaml-invalid: file is larger than the 100-byte limit; not linted")


def test_reading_pauses_the_garbage_collector_and_restores_it(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from validator.sources import files

    seen: list[bool] = []
    real = files.load_text
    monkeypatch.setattr(files, "load_text", lambda *a: (seen.append(gc.isenabled()), real(*a))[1])
    write(tmp_path / "witness.yaml", WITNESS)
    assert gc.isenabled()
    assert [p.name for p in load_paths([str(tmp_path)]).pools] == ["witness"]
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        load_paths([str(tmp_path)])
        assert not gc.isenabled(), "a collector the caller turned off stays off"
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), files.collector_paused():
        raise RuntimeError
    assert gc.isenabled()


def test_json_in_quoted_annotations_does_not_force_the_event_scan(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A node dump holds one JSON annotation per node; only real openers count towards the depth bound."""
    import yaml

    items = "".join(f"- apiVersion: v1\n  kind: Node\n  metadata:\n    name: n{i}\n    annotations:\n"
                    f"      csi.volume.kubernetes.io/nodeid: '{{\"ebs.csi.aws.com\":\"i-{i}\"}}'\n"
                    for i in range(MAX_NESTING + 100))
    write(tmp_path / "nodes.yaml", "apiVersion: v1\nkind: List\nitems:\n" + items)
    scans: list[str] = []
    real_parse = yaml.parse
    monkeypatch.setattr(yaml, "parse", lambda *a, **k: (scans.append("scan"), real_parse(*a, **k))[1])
    linted = lint_paths(tmp_path)
    assert len(linted.cluster.nodes) == MAX_NESTING + 100 and input_problems(linted) == []
    assert scans == []
    write(tmp_path / "nodes.yaml", "apiVersion: v1\nkind: List\nitems:\n" + items
          + "- " + "[" * MAX_NESTING + "]" * MAX_NESTING + "\n")
    assert [line for _, line, _ in input_problems(lint_paths(tmp_path))] == [6 * (MAX_NESTING + 100) + 4]
    assert scans == ["scan"]


@pytest.mark.parametrize("line_break", ["\n", "\r\n", "\r", "\x85", "\u2028"])
def test_deep_block_nesting_is_found_whatever_the_line_breaks(tmp_path: Path, line_break: str) -> None:
    """libyaml also breaks lines at CR, NEL, LS and PS: a check that looks for newlines only is blind."""
    text = "a:" + line_break + "".join(" " * (i + 1) + "b:" + line_break for i in range(MAX_NESTING + 10))
    write(tmp_path / "deep.yaml", text.encode("utf-8"))
    found = [(n, line) for n, line, _ in input_problems(lint_paths(tmp_path))]
    assert found == [("deep.yaml", MAX_NESTING + 1)]


@pytest.mark.parametrize("text", [
    pytest.param("".join(f"---\napiVersion: v1\nkind: Node\nmetadata: {{name: n{i}, labels: {{a: b}}}}\n"
                         for i in range(2 * MAX_NESTING)), id="flow-style-documents"),
    pytest.param("apiVersion: v1\nkind: NodeList\nitems:\n" + "".join(
        f"- apiVersion: v1\n  kind: Node\n  metadata:\n    name: n{i}\n    labels: {{}}\n  spec: {{}}\n"
        f"  taints: []\n" for i in range(MAX_NESTING)),
        id="empty-pairs"),
])
def test_many_flow_collections_that_cannot_nest_deep_skip_the_event_scan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    import yaml

    scans: list[str] = []
    real_parse = yaml.parse
    monkeypatch.setattr(yaml, "parse", lambda *a, **k: (scans.append("scan"), real_parse(*a, **k))[1])
    write(tmp_path / "nodes.yaml", text)
    linted = lint_paths(tmp_path)
    assert input_problems(linted) == [] and len(linted.cluster.nodes) >= MAX_NESTING
    assert scans == []


@pytest.mark.parametrize("filler", ["'{}' ", '"[]" ', "'[' ", "{} ", "[] "])
def test_quoted_or_empty_pairs_cannot_hide_deep_nesting(folder: Path, filler: str) -> None:
    """The per-document count discounts quoted openers and empty pairs, each once: padding a deep nest
    with them must not bring the bound under the limit."""
    depth = MAX_NESTING + 5
    deep = "x: " + "[" * depth + "]" * depth
    write(folder / "deep.yaml", "# " + filler * (3 * MAX_NESTING) + "\n" + deep + "\n")
    done = run_cli(["lint", str(folder)])
    assert f"deep.yaml:2: error yaml-invalid: YAML nests more than {MAX_NESTING} levels deep" in done.stdout
