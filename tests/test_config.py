"""The policy file: each key does what it says (one case that triggers it, one that must not), a bad file is
exit status 2 with a located message, and `.ippool-validator.yaml` is found from the current folder up to the
git root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from validator.cli import main
from validator.config import CONFIG_NAME, Config, ConfigError, find_config, load_config, parse_config

TOPOLOGY = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: rack-1}
spec: {cidr: 10.244.1.0/24, nodeSelector: rack == "1"}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: rack-2}
spec: {cidr: 10.244.2.0/24, nodeSelector: rack == "2"}
"""
# A /24 (256 addresses) serving two nodes: enough at 110 pods per node (220), not at 200 (400).
CAPACITY = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: small}
spec: {cidr: 10.244.0.0/24, blockSize: 26}
---
apiVersion: v1
kind: NodeList
items:
- {apiVersion: v1, kind: Node, metadata: {name: n1}}
- {apiVersion: v1, kind: Node, metadata: {name: n2}}
"""


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git-less folder as the current folder, holding manifests and (when a test writes it) a policy."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def lint(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["lint", *args])
    return result.exit_code, result.stdout, result.stderr


def write_policy(repo: Path, text: str) -> None:
    (repo / CONFIG_NAME).write_text(text)


# rules:

def test_rules_off_removes_a_rules_findings(repo: Path) -> None:
    (repo / "pools.yaml").write_text(TOPOLOGY)
    assert "fallback-missing" in lint()[1]
    write_policy(repo, "rules:\n  fallback-missing: off\n")
    code, out, _ = lint()
    assert code == 0 and "fallback-missing" not in out


def test_rules_error_raises_a_warning_and_fails(repo: Path) -> None:
    (repo / "pools.yaml").write_text(TOPOLOGY)
    assert lint()[0] == 0  # a warning only
    write_policy(repo, "rules:\n  fallback-missing: error\n")
    code, out, _ = lint()
    assert code == 1 and "error fallback-missing" in out


def test_rules_warning_lowers_an_error(repo: Path) -> None:
    (repo / "pools.yaml").write_text(TOPOLOGY.replace("10.244.2.0/24", "10.244.1.0/24"))
    assert lint()[0] == 1
    write_policy(repo, "rules:\n  pool-overlap: warning\n")
    code, out, _ = lint()
    assert code == 0 and "warning pool-overlap" in out


# max-pods:

def test_max_pods_from_the_policy_file(repo: Path) -> None:
    (repo / "cluster.yaml").write_text(CAPACITY)
    assert "pool-capacity" not in lint()[1]
    write_policy(repo, "max-pods: 200\n")
    assert "pool-capacity" in lint()[1]


def test_max_pods_on_the_command_line_wins_over_the_policy(repo: Path) -> None:
    (repo / "cluster.yaml").write_text(CAPACITY)
    write_policy(repo, "max-pods: 200\n")
    assert "pool-capacity" not in lint("--max-pods", "110")[1]


# allowed-cidrs, reserved-cidrs, require-dual-stack, topology-labels: their rules are tested over fixtures in
# test_policy_rules.py; here, what the loader makes of them.

def test_allowed_and_reserved_cidrs_are_read_as_networks() -> None:
    config = parse_config("allowed-cidrs: [10.0.0.0/8, 'fd00::/8']\n"
                          "reserved-cidrs:\n  - cidr: 10.96.0.0/12\n    reason: ' service CIDR '\n")
    assert [str(n) for n in config.allowed_cidrs] == ["10.0.0.0/8", "fd00::/8"]
    assert [(str(r.network), r.reason) for r in config.reserved_cidrs] == [("10.96.0.0/12", "service CIDR")]


def test_require_dual_stack_on_the_command_line(repo: Path) -> None:
    (repo / "cluster.yaml").write_text(CAPACITY)
    assert "dual-stack-missing" not in lint()[1]
    write_policy(repo, "require-dual-stack: true\n")
    code, out, _ = lint()
    assert code == 1 and out.count("error dual-stack-missing") == 2


# require-fallback:

def test_require_fallback_false_accepts_topology_pools(repo: Path) -> None:
    (repo / "pools.yaml").write_text(TOPOLOGY)
    write_policy(repo, "require-fallback: true\n")
    assert "fallback-missing" in lint()[1]
    write_policy(repo, "require-fallback: false\n")
    assert "fallback-missing" not in lint()[1]


def test_topology_labels_on_the_command_line(repo: Path) -> None:
    (repo / "pools.yaml").write_text(TOPOLOGY)
    write_policy(repo, "topology-labels: [rack]\n")
    assert "selector-label-unknown" not in lint()[1]
    write_policy(repo, "topology-labels: [topology.kubernetes.io/zone]\n")
    assert lint()[1].count(" selector-label-unknown: ") == 2  # finding lines, not the count per rule


def test_defaults_without_a_policy_file() -> None:
    assert parse_config("") == Config(source=CONFIG_NAME)
    assert parse_config("# only a comment\n").require_fallback is True


def test_yaml_1_1_words_are_not_booleans() -> None:
    assert parse_config("rules: {pool-overlap: off}\n").rule_levels == {"pool-overlap": "off"}
    with pytest.raises(ConfigError, match=r":1: require-dual-stack: 'yes' is not of type boolean"):
        parse_config("require-dual-stack: yes\n")


# Malformed policy files: exit status 2, `file:line: message` on standard error.

MALFORMED = {
    "unknown key": ("rules: {}\nmax_pods: 5\n", 2, "unknown key 'max_pods' (did you mean 'max-pods'?)"),
    "unknown rule": ("rules:\n  pool-overlap: off\n  pool-overlapp: error\n", 3,
                     "unknown rule 'pool-overlapp'; did you mean 'pool-overlap'? known rules: cidr-invalid"),
    "bad level": ("rules:\n  pool-overlap: fatal\n", 2,
                  "rules.pool-overlap: 'fatal' is not one of off, warning"),
    "wrong type": ("max-pods: many\n", 1, "max-pods: 'many' is not of type integer"),
    "out of range": ("\nmax-pods: 0\n", 2, ("max-pods: ", "0")),
    "host bits": ("allowed-cidrs:\n  - 10.0.0.0/8\n  - 10.1.2.0/16\n", 3,
                  "allowed-cidrs[1]: '10.1.2.0/16' has host bits set (did you mean 10.1.0.0/16?)"),
    "bare address": ("reserved-cidrs:\n  - cidr: 10.0.0.1\n    reason: gateway\n", 2,
                     "reserved-cidrs[0].cidr: '10.0.0.1' is an address, not a network (write 10.0.0.1/32"),
    "missing reason": ("reserved-cidrs:\n  - cidr: 10.96.0.0/12\n", 2,
                       ("reserved-cidrs[0]: ", "reason")),
    "unknown nested key": ("reserved-cidrs:\n  - cidr: 10.96.0.0/12\n    reason: svc\n    note: x\n", 4,
                           "reserved-cidrs[0]: unknown key 'note'"),
    "duplicate key": ("max-pods: 110\nrequire-fallback: true\nmax-pods: 120\n", 3,
                      "duplicate key 'max-pods' (first at line 1)"),
    "yaml syntax": ("rules:\n  pool-overlap: [off\n", 3, "YAML syntax error"),
    "not a mapping": ("- rules\n", 1, "a policy file is a mapping of keys (rules, max-pods, "),
    "empty label key": ("topology-labels: ['']\n", 1, "topology-labels[0]: "),
    "recursive alias": ("rules: {}\ntopology-labels: &t [a, *t]\n", 2, "(a recursive alias)"),
    "recursive mapping": ("\nrules: &r {pool-overlap: *r}\n", 2, "(a recursive alias)"),
    "alias bomb": ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)),
        1, "aliases expand to more than 100,000 values (an alias bomb?)"),
    **{f"long integer ({form})": (f"\nmax-pods: {text}\n", 2, "integer of ") for form, text in {
        "decimal": "9" * 5000, "hex": "0x" + "f" * 5000, "octal": "0" + "7" * 10_000,
        "binary": "0b" + "1" * 20_000, "sexagesimal": "1" + ":59" * 10_000}.items()},
    "not an integer": ("max-pods: !!int lots\n", 1, "'lots' is not an integer"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_policy_exits_2_with_a_located_message(case: str, repo: Path) -> None:
    """Where a message is jsonschema's own (minimum, required, pattern), only our part is asserted: the file,
    line and key path, and what the message names (several fragments), never the library's sentence."""
    text, line, message = MALFORMED[case]
    (repo / "pools.yaml").write_text(TOPOLOGY)
    write_policy(repo, text)
    code, out, err = lint()
    assert code == 2 and out == ""
    prefix, *named = (message,) if isinstance(message, str) else message
    located = [entry for entry in err.splitlines() if f"{CONFIG_NAME}:{line}: " in entry and prefix in entry]
    assert len(located) == 1 and all(fragment in located[0] for fragment in named), err


def test_every_problem_is_reported_at_once(repo: Path) -> None:
    write_policy(repo, "max_pods: 5\nrequire-fallback: 'no'\nrules: {pool-overlap: loud}\n")
    code, _, err = lint()
    assert code == 2
    assert [line.split(":")[1] for line in err.splitlines()] == ["1", "2", "3"]


def test_explicit_config_that_does_not_exist_exits_2(repo: Path) -> None:
    code, _, err = lint("--config", "missing.yaml")
    assert code == 2 and "missing.yaml: no such policy file" in err


@pytest.mark.parametrize("command", [["lint"], ["lint", "--config", CONFIG_NAME],
                                     ["serve", "--tls-cert", "c", "--tls-key", "k", "--config", CONFIG_NAME]])
@pytest.mark.parametrize("case", ["recursive alias", "alias bomb", "long integer (hex)"])
def test_hostile_policy_exits_2_quickly_in_a_real_process(repo: Path, command: list[str], case: str) -> None:
    """These once hung lint at full CPU (aliases) or ended in a ValueError traceback (integers)."""
    text, line, message = MALFORMED[case]
    write_policy(repo, text)
    proc = subprocess.run([sys.executable, "-m", "validator.cli", *command], capture_output=True, text=True,
                          cwd=repo, timeout=30)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{CONFIG_NAME}:{line}: " in proc.stderr and message in proc.stderr


def test_malformed_policy_in_a_real_process_prints_no_traceback(repo: Path) -> None:
    write_policy(repo, "rules:\n  pool-overlap: [\n")
    proc = subprocess.run([sys.executable, "-m", "validator.cli", "lint"], capture_output=True, text=True,
                          cwd=repo)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"{CONFIG_NAME}:3: YAML syntax error")


# Where the policy file is found.

def test_found_in_a_parent_folder_up_to_the_git_root(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    deep = tmp_path / "repo" / "clusters" / "prod"
    deep.mkdir(parents=True)
    assert find_config(deep) is None
    (tmp_path / "repo" / CONFIG_NAME).write_text("max-pods: 50\n")
    assert find_config(deep) == str(tmp_path / "repo" / CONFIG_NAME)
    (deep / CONFIG_NAME).write_text("max-pods: 60\n")
    assert find_config(deep) == str(deep / CONFIG_NAME)


def test_not_looked_for_above_the_git_root(tmp_path: Path) -> None:
    (tmp_path / CONFIG_NAME).write_text("max-pods: 50\n")
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    assert find_config(tmp_path / "repo") is None


def test_outside_a_git_repository_only_the_current_folder_counts(tmp_path: Path) -> None:
    (tmp_path / CONFIG_NAME).write_text("max-pods: 50\n")
    (tmp_path / "sub").mkdir()
    assert find_config(tmp_path / "sub") is None
    assert find_config(tmp_path) == str(tmp_path / CONFIG_NAME)


def test_lint_uses_the_policy_of_the_repository_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / CONFIG_NAME).write_text("rules: {fallback-missing: error}\n")
    (tmp_path / "clusters").mkdir()
    (tmp_path / "clusters" / "pools.yaml").write_text(TOPOLOGY)
    monkeypatch.chdir(tmp_path / "clusters")
    code, out, _ = lint()
    assert code == 1 and "error fallback-missing" in out


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("max-pods: 250\nrules: {pool-capacity: error}\n")
    config = load_config(path)
    assert (config.max_pods, config.rule_levels, config.lines) == (250, {"pool-capacity": "error"},
                                                                   {"max-pods": 1, "rules": 2})
