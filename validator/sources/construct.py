"""Turning composed YAML into plain data, as the Kubernetes API server reads a manifest.

PyYAML's SafeConstructor refuses any tag it does not know (`!Ref`, `!GetAtt`, `!!python/name:`), so a
CloudFormation template or a `mkdocs.yml` failed to read although it is valid YAML that is simply not ours.
Here a tag only matters for the YAML 1.1 scalar types; any other tag is data of its node's shape (a string,
a list or a mapping), and the document's `kind` decides whether we care. Timestamps and `!!binary` stay
strings, as `sigs.k8s.io/yaml` (YAML to JSON) leaves them.

What the API server would refuse is reported at its line instead of raising: a repeated mapping key
(kubectl's strict field validation rejects it; PyYAML keeps the last one silently), an explicit `!!int`,
`!!bool` or `!!float` whose text is not one, and an integer beyond what Python can print (more than
`sys.get_int_max_str_digits()` decimal digits, in any of YAML 1.1's forms: decimal, `0b`, `0x`, `0`
octal, and base-60 `1:30:00`), which once escaped as a ValueError traceback.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any

import yaml

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
MERGE = "tag:yaml.org,2002:merge"
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"
_BOOLS = {"yes": True, "true": True, "on": True, "no": False, "false": False, "off": False}
_NULLS = {"", "~", "null"}
_INT_TEXT = re.compile(r"[-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|0o?[0-7_]+|[0-9][0-9_]*"
                       r"|[1-9][0-9_]*(?::[0-5]?[0-9])+)")
# compiled (and cached by `re`) at the first float: pool files seldom hold one, and it costs start-up 0.2 ms
_FLOAT_TEXT = (r"[-+]?(?:(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+"
               r"|[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
               r"|[0-9][0-9_]*)")
_BITS_PER_DIGIT = {2: 1.0, 8: 3.0, 16: 4.0, 60: math.log2(60)}


def max_int_digits() -> int:
    """Python's limit on decimal digits for int <-> str (3.11+: 4,300 by default); a generous 4,300 where
    no limit exists, so that behaviour does not depend on the interpreter."""
    limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
    return limit if limit > 0 else 4300


class ReadProblem(Exception):
    """Something in a document that cannot be read as the API server would read it, with its 1-based line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def yaml_int(text: str, line: int) -> int:
    """A YAML 1.1 integer, refusing one too long to be printed (decimal digits beyond max_int_digits())."""
    value = text.replace("_", "")
    if not _INT_TEXT.fullmatch(text) or not value.strip("+-"):
        raise ReadProblem(line, f"{_short(text)!r} is not an integer")
    sign = -1 if value[0] == "-" else 1
    if value[0] in "+-":
        value = value[1:]
    limit = max_int_digits()
    base, digits = _base_and_digits(value)
    if base != 60:
        digits = digits.lstrip("0") or "0"
    # Refuse from the length alone, before any arithmetic: a megabyte of base-60 parts is slow to sum.
    if (len(digits) > limit if base == 10 else
            len(digits) * _BITS_PER_DIGIT[base] > limit * math.log2(10) + 64):
        raise ReadProblem(line, f"integer of about {_decimal_digits(digits, base):,} digits: more than "
                                f"the {limit:,} that can be read; not linted")
    try:
        number = _sum_base60(digits) if base == 60 else int(digits, base) if digits else 0
    except ValueError:
        raise ReadProblem(line, f"{_short(text)!r} is not an integer") from None
    if base != 10 and number.bit_length() * math.log10(2) >= limit:
        raise ReadProblem(line, f"integer of more than {limit:,} digits: more than can be read; not linted")
    return sign * number


def _sum_base60(digits: str) -> int:
    number = 0
    for part in digits.split(":"):
        number = number * 60 + int(part)
    return number


def _base_and_digits(value: str) -> tuple[int, str]:
    if value.startswith("0b"):
        return 2, value[2:]
    if value.startswith("0x"):
        return 16, value[2:]
    if ":" in value:
        return 60, value
    if value.startswith("0o"):
        return 8, value[2:]
    if len(value) > 1 and value.startswith("0"):
        return 8, value[1:]
    return 10, value


def _decimal_digits(digits: str, base: int) -> int:
    if base == 60:
        return int(len(digits.split(":")) * math.log10(60)) + 1
    return int(len(digits) * math.log10(base)) + 1


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def yaml_float(text: str, line: int) -> float:
    value = text.replace("_", "").lower()
    if not re.fullmatch(_FLOAT_TEXT, text):
        raise ReadProblem(line, f"{_short(text)!r} is not a number")
    sign = -1.0 if value.startswith("-") else 1.0
    value = value.lstrip("+-")
    if value == ".inf":
        return sign * math.inf
    if value == ".nan":
        return math.nan
    try:
        if ":" in value:
            number = 0.0
            for part in value.split(":"):
                number = number * 60 + float(part)
            return sign * number
        return sign * float(value)
    except ValueError:
        raise ReadProblem(line, f"{_short(text)!r} is not a number") from None


def scalar(node: yaml.ScalarNode) -> Any:
    """A scalar of a known YAML 1.1 type as its Python value; any other tag gives its text."""
    tag, text = node.tag, node.value
    if tag == STR:
        return text
    if tag == INT:
        if text.isascii() and text.isdigit() and len(text) < 19 and (text[0] != "0" or text == "0"):
            return int(text)
        return yaml_int(text, node.start_mark.line + 1)
    if tag == BOOL:
        try:
            return _BOOLS[text.lower()]
        except KeyError:
            raise ReadProblem(node.start_mark.line + 1, f"{_short(text)!r} is not a boolean") from None
    if tag == NULL:
        if text.lower() not in _NULLS:
            raise ReadProblem(node.start_mark.line + 1, f"{_short(text)!r} is not null")
        return None
    if tag == FLOAT:
        return yaml_float(text, node.start_mark.line + 1)
    return text


_Scalar = yaml.ScalarNode


class Builder:
    """Builds one document: mappings become dicts, sequences lists, scalars by `scalar`.

    Nesting was bounded before composing (files.MAX_NESTING), so plain recursion is safe and faster than an
    explicit stack. With `aliases`, each collection is memoised by node as soon as it exists, so a node
    reached through several aliases is built once and a recursive alias yields a container holding itself,
    as PyYAML does. Duplicate keys are collected (line, message), not raised: the rest is still linted.
    """

    def __init__(self, aliases: bool) -> None:
        self.memo: dict[int, Any] | None = {} if aliases else None
        self.duplicates: list[tuple[int, str, int]] = []  # (line, key, line of the first)

    def build(self, node: yaml.Node) -> Any:
        kind = node.__class__
        if kind is _Scalar:
            return node.value if node.tag == STR else scalar(node)  # type: ignore[arg-type]
        memo = self.memo
        if memo is not None and id(node) in memo:
            return memo[id(node)]
        if kind is yaml.SequenceNode:
            items: list[Any] = []
            if memo is not None:
                memo[id(node)] = items
            build = self.build
            items.extend([child.value if child.__class__ is _Scalar and child.tag == STR else build(child)
                          for child in node.value])
            return items
        return self._mapping(node)  # type: ignore[arg-type]

    def _mapping(self, node: yaml.MappingNode) -> dict[Any, Any]:
        """Keys and values of plain string scalars (most of a manifest) are taken inline; repeated keys are
        looked for only when the mapping came out shorter than it is written."""
        result: dict[Any, Any] = {}
        if self.memo is not None:
            self.memo[id(node)] = result
        merges: list[yaml.Node] = []
        build = self.build
        pairs = node.value
        try:
            for key_node, value_node in pairs:
                if key_node.__class__ is _Scalar and key_node.tag == STR:
                    key = key_node.value
                elif key_node.tag == MERGE:
                    merges.append(value_node)
                    continue
                else:
                    key = build(key_node)
                result[key] = (value_node.value if value_node.__class__ is _Scalar and value_node.tag == STR
                               else build(value_node))
        except TypeError:
            self._unhashable(pairs)
            raise
        if len(result) + len(merges) != len(pairs):
            self._find_duplicates(pairs)
        for merged in merges:
            self._merge(result, merged)
        return result

    def _unhashable(self, pairs: list[tuple[yaml.Node, yaml.Node]]) -> None:
        for key_node, _ in pairs:
            if key_node.__class__ is not _Scalar:
                try:
                    hash(self.build(key_node))
                except TypeError:
                    raise ReadProblem(key_node.start_mark.line + 1, "unhashable key: a mapping key that is "
                                                                    "itself a mapping or a list") from None

    def _find_duplicates(self, pairs: list[tuple[yaml.Node, yaml.Node]]) -> None:
        first: dict[Any, int] = {}
        for key_node, _ in pairs:
            if key_node.tag == MERGE:
                continue
            key = self.build(key_node)
            line = key_node.start_mark.line + 1
            if key in first:
                self.duplicates.append((line, _short(str(key)), first[key]))
            else:
                first[key] = line

    def _merge(self, into: dict[Any, Any], node: yaml.Node) -> None:
        """`<<: *base` (or a list of them): keys written here win, then earlier merges over later ones."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            value = self.build(source)
            if not isinstance(value, dict):
                raise ReadProblem(source.start_mark.line + 1, "a merge key (<<) takes a mapping or a list of "
                                                              "mappings")
            for key, item in value.items():
                into.setdefault(key, item)


def expansion(root: yaml.Node, limit: int) -> tuple[int, yaml.Node | None]:
    """How many nodes the document has once every alias is expanded (capped just above `limit`), counted
    without expanding it, and the first node found inside itself (a recursive alias), if any.

    Sizes are summed in post-order (a node after all of its children), memoised per node, so a node shared
    through aliases counts in full wherever it is referenced. A node entered but not yet sized is an
    ancestor of the current one: reaching it again is a recursive alias, counted once where it is defined.
    """
    sizes: dict[int, int] = {}
    entered: set[int] = set()
    recursive: yaml.Node | None = None
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done:
            total = 1 + sum(sizes.get(id(child), 1) for child in children)
            sizes[id(node)] = min(total, limit + 1)
            continue
        if id(node) in entered:
            recursive = recursive or node
            continue
        entered.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)], recursive


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class MemoResolver(yaml.resolver.Resolver):
    """The implicit tag of a plain scalar, memoised per stream: manifests repeat the same keys and values
    (`apiVersion`, `kind`, label names) thousands of times, and each uncached resolve runs regexes.

    PyYAML's path resolvers are not used (none is registered), so descending and ascending are no-ops
    and collections take the default tags directly: libyaml's composer calls these three for every node.
    """

    def __init__(self) -> None:
        super().__init__()
        self._plain_tags: dict[str, str] = {}

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is _Scalar:
            if not implicit[0]:
                return STR
            tag = self._plain_tags.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                self._plain_tags[value] = tag
            return tag
        return SEQ if kind is yaml.SequenceNode else MAP


__all__ = ["Builder", "MemoResolver", "ReadProblem", "expansion", "max_int_digits", "scalar", "yaml_int"]
