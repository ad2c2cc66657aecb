"""The organisation's policy: rule levels, pod density and address plan, with Calico's defaults otherwise.

The policy file (`.ippool-validator.yaml` at the repository root, or `--config FILE`) is checked against
`validator/schemas/config.schema.json` before anything reads it, and every mistake in it is reported as
`file:line: what is wrong`: a typo in a policy must not silently turn a check off. The file is read with
YAML 1.2 booleans (only `true`/`false`), so `pool-overlap: off` means the level "off", not `false`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, cast

import yaml

from . import schemas
from .addresses import parse_network
from .model import IPNet, read_cidr

Level = Literal["off", "warning", "error"]
LEVELS: tuple[Level, ...] = ("off", "warning", "error")
DEFAULT_MAX_PODS = 110  # the kubelet's default maxPods
CONFIG_NAME = ".ippool-validator.yaml"
SCHEMA_NAME = "config"
MAX_REPORTED = 20
MAX_POLICY_NODES = 100_000  # a policy is a few hundred values; aliases may not expand it past this


class ReservedRange(NamedTuple):
    network: IPNet
    reason: str


@dataclass(frozen=True)
class Config:
    """The policy in force: the built-in defaults, or a policy file read over them. (With no docstring,
    dataclasses would make one from `inspect.signature` at every start.)"""

    rule_levels: dict[str, Level] = field(default_factory=dict)
    max_pods: int = DEFAULT_MAX_PODS
    allowed_cidrs: tuple[IPNet, ...] = ()
    reserved_cidrs: tuple[ReservedRange, ...] = ()
    require_dual_stack: bool = False
    require_fallback: bool = True
    topology_labels: tuple[str, ...] | None = None
    audit: Mapping[str, Any] = field(default_factory=dict)  # the `audit` section as written (validator.audit)
    exclude: tuple[str, ...] = ()  # gitignore-style, relative to `folder`
    folder: str = "."  # the policy file's folder (patterns in it are relative to it)
    source: str = ""  # the policy file this came from, "" for built-in defaults
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)  # top-level key -> its line


class ConfigError(Exception):
    """A policy file that cannot be used; the text is one `file:line: message` line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _PolicyLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: `off`, `no`, `on` and `yes` stay strings."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


_PolicyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def find_config(start: str | os.PathLike[str] = ".") -> str | None:
    """The policy file that applies in `start`: there, or in a parent folder up to the git repository's root.

    Outside a git repository only `start` itself is searched, so a stray file in a home folder never applies.
    (os.path rather than pathlib, which costs lint's start-up some 1.5 ms to import.)
    """
    here = os.path.realpath(start)
    upwards = [here]
    while (parent := os.path.dirname(upwards[-1])) != upwards[-1]:
        upwards.append(parent)
    folders = [here]
    for depth, folder in enumerate(upwards):
        if os.path.exists(os.path.join(folder, ".git")):
            folders = upwards[: depth + 1]
            break
    for folder in folders:
        candidate = os.path.join(folder, CONFIG_NAME)
        if os.path.isfile(candidate):
            return candidate
    return None


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and check a policy file; raises ConfigError with located messages for anything wrong in it."""
    label = _display(path)
    try:
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ConfigError([f"{label}: no such policy file"]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError([f"{label}:1: cannot read the policy file: {err}"]) from None
    return parse_config(text, label, os.path.dirname(os.path.realpath(path)))


def parse_config(text: str, label: str = CONFIG_NAME, folder: str = ".") -> Config:
    node, data, duplicates = _compose(text, label)
    if data is None:
        data = {}
    located = [*duplicates, *_schema_problems(data, node)]
    if not located:
        located = list(_value_problems(data, node))
    problems = [f"{label}:{line}: {message}" for line, message in sorted(located)]
    if problems:
        more = len(problems) - MAX_REPORTED
        raise ConfigError(problems[:MAX_REPORTED] + ([f"{label}: ... and {more} more"] if more > 0 else []))
    return _config_from(data, node, label, folder)


def _compose(text: str, label: str) -> tuple[yaml.Node | None, Any, list[tuple[int, str]]]:
    """The policy's node, its data and its repeated keys (line, message).

    Read as the linter reads manifests (sources.construct.Builder): a repeated key is reported (PyYAML keeps
    the last without a word, which hides a setting), an integer too long to read is a located error, and
    aliases are bounded before anything walks them: the file is found automatically, so a pull request can
    ship a self-referencing alias or an alias bomb, and either once hung lint at full CPU.
    """
    from .sources.construct import Builder, ReadProblem, expansion

    loader = _PolicyLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = " ".join(p for p in (err.context, err.problem) if p)
        raise ConfigError([f"{label}:{line}: YAML syntax error: {what}"]) from None
    except yaml.YAMLError as err:
        raise ConfigError([f"{label}:1: YAML error: {err}"]) from None
    finally:
        loader.dispose()
    if node is None:
        return None, None, []
    size, recursive = expansion(node, MAX_POLICY_NODES)
    if recursive is not None:
        raise ConfigError([f"{label}:{recursive.start_mark.line + 1}: an alias refers to the value that "
                           "holds it (a recursive alias); a policy cannot contain itself"])
    if size > MAX_POLICY_NODES:
        raise ConfigError([f"{label}:{node.start_mark.line + 1}: aliases expand to more than "
                           f"{MAX_POLICY_NODES:,} values (an alias bomb?); not read"])
    builder = Builder(aliases=True)
    try:
        data = builder.build(node)
    except ReadProblem as err:
        raise ConfigError([f"{label}:{err.line}: {err.message}"]) from None
    except RecursionError:
        raise ConfigError([f"{label}:1: the policy file nests too deeply to read"]) from None
    return node, data, [(line, f"duplicate key {key!r} (first at line {first})")
                        for line, key, first in builder.duplicates]


def _schema_problems(data: Any, node: yaml.Node | None) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for error in schemas.errors(SCHEMA_NAME, data, prune_nulls=False):
        path = list(error.absolute_path)
        where = _path_text(path)
        if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
            known = list(error.schema.get("properties", {}))
            for extra in sorted(set(error.instance) - set(known), key=str):
                guess = _close_matches(str(extra), known, n=1)
                hint = f" (did you mean {guess[0]!r}?)" if guess else f"; known keys: {', '.join(known)}"
                prefix = f"{where}: " if path else ""
                found.append((_line_at(node, [*path, extra], key=True),
                              f"{prefix}unknown key {extra!r}{hint}"))
            continue
        if error.validator == "enum":
            allowed = ", ".join(str(v) for v in error.validator_value)
            message = f"{where}: {error.instance!r} is not one of {allowed}"
        elif error.validator == "type" and not path:
            keys = ", ".join(error.schema.get("properties", {}))
            message = f"a policy file is a mapping of keys ({keys}), not a {type(error.instance).__name__}"
        elif error.validator == "type":
            message = f"{where}: {error.instance!r} is not of type {error.validator_value}"
            if error.validator_value == "boolean":
                message += " (write true or false)"
        else:
            message = f"{where}: {error.message}" if path else error.message
        found.append((_line_at(node, path), message))
    return sorted(found)


def _value_problems(data: Mapping[str, Any], node: yaml.Node | None) -> Iterator[tuple[int, str]]:
    """What the schema cannot know: rule ids from the registry, and CIDRs that must be networks."""
    from .rules import REGISTRY

    for rule_id in data.get("rules") or {}:
        if rule_id not in REGISTRY:
            guess = _close_matches(str(rule_id), list(REGISTRY), n=1)
            hint = f"did you mean {guess[0]!r}? " if guess else ""
            yield (_line_at(node, ["rules", rule_id], key=True),
                   f"rules: unknown rule {rule_id!r}; {hint}known rules: {', '.join(REGISTRY)}")
    for index, text in enumerate(data.get("allowed-cidrs") or []):
        problem = _cidr_problem(text)
        if problem:
            yield _line_at(node, ["allowed-cidrs", index]), f"allowed-cidrs[{index}]: {problem}"
    for index, entry in enumerate(data.get("reserved-cidrs") or []):
        problem = _cidr_problem(entry["cidr"])
        if problem:
            line = _line_at(node, ["reserved-cidrs", index, "cidr"])
            yield line, f"reserved-cidrs[{index}].cidr: {problem}"


def _cidr_problem(text: str) -> str:
    reading = read_cidr(text)
    if reading.shape == "invalid":
        return f"{text!r} is not a CIDR (write it as address/prefix, e.g. 10.96.0.0/12)"
    if reading.address is not None:
        single = f"{reading.address}/{reading.address.max_prefixlen}"
        return f"{text!r} is an address, not a network (write {single} for one address)"
    if reading.shape == "host-bits":
        return f"{text!r} has host bits set (did you mean {reading.network}?)"
    return ""


def _config_from(data: Mapping[str, Any], node: yaml.Node | None, label: str, folder: str) -> Config:
    reserved = tuple(ReservedRange(parse_network(entry["cidr"]), entry["reason"].strip())
                     for entry in data.get("reserved-cidrs") or [])
    labels = data.get("topology-labels")
    return Config(
        rule_levels=cast(dict[str, Level], dict(data.get("rules") or {})),
        max_pods=data.get("max-pods", DEFAULT_MAX_PODS),
        allowed_cidrs=tuple(parse_network(text) for text in data.get("allowed-cidrs") or []),
        reserved_cidrs=reserved,
        require_dual_stack=data.get("require-dual-stack", False),
        require_fallback=data.get("require-fallback", True),
        topology_labels=tuple(labels) if labels is not None else None,
        audit=dict(data.get("audit") or {}),
        exclude=tuple(data.get("exclude") or ()),
        folder=folder,
        source=label,
        lines={str(key): _line_at(node, [key], key=True) for key in data},
    )


def _path_text(path: list[Any]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text or "(top level)"


def _line_at(node: yaml.Node | None, path: list[Any], key: bool = False) -> int:
    """The 1-based line of the value at `path` (of its key, with key=True); the deepest found otherwise."""
    line = node.start_mark.line + 1 if node is not None else 1
    for depth, step in enumerate(path, 1):
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(step):
                    marked = key_node if key and depth == len(path) else value_node
                    node, line = value_node, marked.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _display(path: str | os.PathLike[str]) -> str:
    """The policy file's path as the user gave it relative to here (absolute when it lies outside)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel.replace(os.sep, "/")


def _close_matches(word: str, choices: list[str], n: int) -> list[str]:
    import difflib  # only for a policy file with a mistake in it: lint's start-up stays lean

    return difflib.get_close_matches(word, choices, n=n)
