"""Calico's selector language, parsed and evaluated exactly as Calico does it.

A pool's nodeSelector decides which nodes may take addresses from it, so a linter that disagrees with
Calico about one selector reports phantom problems or misses real ones. Every rule here was read off
projectcalico/calico (master 87c15906, 2026-08); the code is our own:

- libcalico-go/lib/selector/tokenizer/tokenizer.go: only space and tab are whitespace (a newline is an
  error); label keys are 1..512 of ``[A-Za-z0-9_./-]``; strings run from ' or " to the next same quote,
  with no escapes; ``contains``, ``starts with``, ``ends with``, ``in``, ``not in`` are operators only
  right after a label and must end at a word boundary (``startswith`` and ``notin`` are accepted);
  ``has(``, ``all(`` and ``global(`` must be written without a space before the parenthesis.
- libcalico-go/lib/selector/parser/parser.go: the grammar below; a run of ``!`` collapses to one
  negation of the next operation; empty or blank text is ``all()``; anything left over is an error.
- libcalico-go/lib/selector/parser/ast.go: evaluation and String(). A missing label makes ``==``,
  ``in``, ``contains``, ``starts with`` and ``ends with`` false, and ``!=`` and ``not in`` TRUE.
  ``global()`` evaluates to true like ``all()``: it only means something in a policy rule's
  namespaceSelector; an IPPool selector may not contain the text ``global(`` at all (CEL rule in
  api/pkg/apis/projectcalico/v3/ippool.go), a substring test that also rejects ``a == "global("``.
- libcalico-go/lib/selector/parser/stringset.go: set literals are sorted and de-duplicated.
- libcalico-go/lib/ipam/pools.go (SelectsNode): IPAM evaluates nodeSelector against the node's labels.

Grammar::

    selector  := "" | or
    or        := and ("||" and)*
    and       := operation ("&&" operation)*
    operation := "!"* ( "(" or ")" | "has(" label ")" | "all()" | "global()"
                      | label ("==" | "!=" | "contains" | "starts with" | "ends with") string
                      | label ("in" | "not in") "{" [string ("," string)* [","]] "}" )

Two deliberate differences, both invisible to real selectors: the AST may be at most ``MAX_DEPTH``
levels deep (Python recursion; a 1024-character pool selector reaches about 342), and a negated
negation renders as ``!(!x)`` rather than Calico's ``!!x`` so that ``str()`` parses back to an equal
selector. The parser is iterative, so deeply nested parentheses cannot exhaust the stack.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, NamedTuple, NoReturn, Protocol

__all__ = ["LabelIndex", "Selector", "SelectorError", "parse_selector", "MAX_DEPTH", "MAX_LABEL_LENGTH"]

MAX_LABEL_LENGTH = 512
MAX_DEPTH = 400


class SelectorError(ValueError):
    """A selector Calico would reject; ``position`` is the 0-based index of the offending character."""

    def __init__(self, reason: str, position: int = 0) -> None:
        super().__init__(f"column {position + 1}: {reason}")
        self.reason = reason
        self.position = position

    def __reduce__(self) -> tuple[type[SelectorError], tuple[str, int]]:
        return SelectorError, (self.reason, self.position)


class LabelIndex(Protocol):
    """Members as bits of an int, so a selector is evaluated over all members with set algebra.

    An index may also offer ``text_match(key, op, value) -> int`` for ``contains``, ``starts with``
    and ``ends with``; without it they scan ``values(key)``, which is slow for a per-node key.
    """

    all_bits: int

    def eq(self, key: str, value: str) -> int: ...
    def has(self, key: str) -> int: ...
    def values(self, key: str) -> Iterable[tuple[str, int]]: ...


# ---------------------------------------------------------------- tokens


class _Token(NamedTuple):
    kind: str
    pos: int
    end: int
    value: str = ""
    error: str = ""  # kind ERROR: the tokenizer's own message; empty means "unexpected character"


_ERROR, _EOF, _LABEL, _STRING, _NOT = "error", "end", "label", "string", "!"
_SYMBOL = re.compile(r"==|!=|&&|\|\||[(){},!]")
_WS = re.compile(r"[ \t]*")
_IDENT = re.compile(r"[A-Za-z0-9_./-]*")
_LABEL_OP = re.compile(
    r"(?:(contains)|(starts[ \t]*with)|(ends[ \t]*with)|(not[ \t]*in)|(in))(?![A-Za-z0-9_./-])"
)
_LABEL_OP_KINDS = ("contains", "starts with", "ends with", "not in", "in")
_FUNCTION = re.compile(r"(has|all|global)\([ \t]*")
_OPERATORS = "==, !=, in, not in, contains, starts with, ends with"
_OPERAND = "a label, has(...), all(), global(), '!' or '('"
_NAMED_CHARS = {"\n": "a newline", "\r": "a carriage return", "\f": "a form feed", "\v": "a vertical tab"}


def _found_at(text: str, pos: int) -> str:
    """Name what stands at ``pos`` the way an error message should quote it."""
    if pos >= len(text):
        return "end of selector"
    if text[pos] in _NAMED_CHARS:
        return f"{_NAMED_CHARS[text[pos]]} (only spaces and tabs may separate tokens)"
    word = text[pos : max(_end(_IDENT, text, pos), pos + 1)][:40]
    return f"'{word}'" if word.isprintable() else repr(word)


def _tokenize(text: str) -> list[_Token]:
    """Split ``text`` into tokens; a lexical error becomes a final ERROR token for the parser to report.

    Deferring the error lets the parser report whichever problem comes first in the text.
    """
    tokens: list[_Token] = []
    pos, n = _end(_WS, text, 0), len(text)
    while pos < n:
        tok = _next_token(text, pos, tokens[-1] if tokens else None)
        tokens.append(tok)
        if tok.kind == _ERROR:
            return tokens
        pos = _end(_WS, text, tok.end)
    tokens.append(_Token(_EOF, n, n))
    return tokens


def _next_token(text: str, pos: int, previous: _Token | None) -> _Token:
    ch, symbol = text[pos], _SYMBOL.match(text, pos)
    if symbol is not None:
        return _Token(symbol.group(), pos, symbol.end())
    if ch in "\"'":
        close = text.find(ch, pos + 1)
        if close < 0:
            return _error(pos, f"unterminated string: no closing {ch} after the one here")
        return _Token(_STRING, pos, close + 1, text[pos + 1 : close])
    if ch in "=&|":
        return _error(pos, f"expected '{ch * 2}', found a single '{ch}'")
    if previous is not None and previous.kind == _LABEL:
        op = _LABEL_OP.match(text, pos)
        if op is None:
            expected = f"expected an operator ({_OPERATORS}) after label '{previous.value[:40]}'"
            return _error(pos, f"{expected}, found {_found_at(text, pos)}")
        return _Token(_LABEL_OP_KINDS[(op.lastindex or 1) - 1], pos, op.end())
    function = _FUNCTION.match(text, pos)
    if function is not None:
        return _function_token(text, pos, function)
    end = _end(_IDENT, text, pos)
    return _too_long(pos, end) or _Token(
        _LABEL if end > pos else _ERROR, pos, max(end, pos + 1), text[pos:end]
    )


def _function_token(text: str, start: int, function: re.Match[str]) -> _Token:
    name, pos, key = function.group(1), function.end(), ""
    if name == "has":
        end = _end(_IDENT, text, pos)
        if end == pos:
            return _error(pos, f"expected a label name after 'has(', found {_found_at(text, pos)}")
        if too_long := _too_long(pos, end):
            return too_long
        key, pos = text[pos:end], _end(_WS, text, end)
    if not text.startswith(")", pos):
        return _error(pos, f"expected ')' to close '{name}(', found {_found_at(text, pos)}")
    return _Token(name + "()", start, pos + 1, key)


def _error(pos: int, message: str) -> _Token:
    return _Token(_ERROR, pos, pos + 1, error=message)


def _too_long(pos: int, end: int) -> _Token | None:
    if end - pos <= MAX_LABEL_LENGTH:
        return None
    return _error(pos, f"label is {end - pos} characters long; Calico allows at most {MAX_LABEL_LENGTH}")


def _end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where the (possibly empty) run that ``pattern`` matches at ``pos`` ends."""
    match = pattern.match(text, pos)
    return match.end() if match else pos


# ---------------------------------------------------------------- AST


def _quote(value: str) -> str:
    """Calico's choice: single quotes only when the value holds a double quote."""
    return f"'{value}'" if '"' in value else f'"{value}"'


class Expr:
    """One operation of a selector (an expression of its syntax tree; `Node` is the Kubernetes object, in
    model.py); ``select`` must equal ``matches`` applied to every member.

    Two operations are equal when they are of one kind with equal ``parts``. Plain classes with slots, not
    dataclasses: a dataclass costs lint's start-up about 0.3 ms to define.
    """

    __slots__ = ()

    def parts(self) -> tuple[Any, ...]:
        """What the operation is made of: its operator and operands."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expr):
            return NotImplemented
        return other.__class__ is self.__class__ and self.parts() == other.parts()

    def __hash__(self) -> int:
        return hash((self.__class__, self.parts()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}{self.parts()!r}"

    def matches(self, labels: Mapping[str, str]) -> bool:
        raise NotImplementedError

    def select(self, index: LabelIndex) -> int:
        raise NotImplementedError

    def render(self) -> str:
        raise NotImplementedError

    def children(self) -> tuple[Expr, ...]:
        return ()


class ConstantExpr(Expr):
    """``all()`` or ``global()``: Calico evaluates both to true for any labels."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name: Final = name

    def parts(self) -> tuple[Any, ...]:
        return (self.name,)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return True

    def select(self, index: LabelIndex) -> int:
        return index.all_bits

    def render(self) -> str:
        return self.name


ALL, GLOBAL = ConstantExpr("all()"), ConstantExpr("global()")


class HasExpr(Expr):
    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key: Final = key

    def parts(self) -> tuple[Any, ...]:
        return (self.key,)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.key in labels

    def select(self, index: LabelIndex) -> int:
        return index.has(self.key)

    def render(self) -> str:
        return f"has({self.key})"


_TESTS: dict[str, Callable[[str, str], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "contains": lambda actual, value: value in actual,
    "starts with": str.startswith,
    "ends with": str.endswith,
}


class ValueExpr(Expr):
    """``key op "value"``. An absent label satisfies only ``!=`` (Calico's LabelNeValueNode)."""

    __slots__ = ("key", "op", "value")

    def __init__(self, key: str, op: str, value: str) -> None:
        self.key: Final = key
        self.op: Final = op
        self.value: Final = value

    def parts(self) -> tuple[Any, ...]:
        return (self.key, self.op, self.value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.key)
        if actual is None:
            return self.op == "!="
        return _TESTS[self.op](actual, self.value)

    def select(self, index: LabelIndex) -> int:
        if self.op == "==":
            return index.eq(self.key, self.value)
        if self.op == "!=":
            return index.all_bits & ~index.eq(self.key, self.value)
        text_match = getattr(index, "text_match", None)  # optional: NodeIndex searches sorted values
        if text_match is not None:
            return int(text_match(self.key, self.op, self.value))
        test, bits = _TESTS[self.op], 0
        for actual, members in index.values(self.key):
            if test(actual, self.value):
                bits |= members
        return bits

    def render(self) -> str:
        return f"{self.key} {self.op} {_quote(self.value)}"


class SetExpr(Expr):
    """``key in {...}`` or ``key not in {...}``. An absent label satisfies only ``not in``."""

    __slots__ = ("key", "op", "values")

    def __init__(self, key: str, op: str, values: frozenset[str]) -> None:
        self.key: Final = key
        self.op: Final = op
        self.values: Final = values

    def parts(self) -> tuple[Any, ...]:
        return (self.key, self.op, self.values)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return (labels.get(self.key) in self.values) == (self.op == "in")

    def select(self, index: LabelIndex) -> int:
        bits = 0
        for value in self.values:
            bits |= index.eq(self.key, value)
        return bits if self.op == "in" else index.all_bits & ~bits

    def render(self) -> str:
        return f"{self.key} {self.op} {{{', '.join(_quote(v) for v in sorted(self.values))}}}"


class NotExpr(Expr):
    __slots__ = ("operand",)

    def __init__(self, operand: Expr) -> None:
        self.operand: Final = operand

    def parts(self) -> tuple[Any, ...]:
        return (self.operand,)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return not self.operand.matches(labels)

    def select(self, index: LabelIndex) -> int:
        return index.all_bits & ~self.operand.select(index)

    def render(self) -> str:
        inner = self.operand.render()
        return f"!({inner})" if isinstance(self.operand, NotExpr) else f"!{inner}"

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)


class JunctionExpr(Expr):
    """``(a && b ...)`` or ``(a || b ...)``, nested exactly as written, as Calico keeps it.

    Loops rather than all()/any() and generators: one stack frame per level of nesting.
    """

    __slots__ = ("op", "operands")

    def __init__(self, op: str, operands: tuple[Expr, ...]) -> None:
        self.op: Final = op
        self.operands: Final = operands

    def parts(self) -> tuple[Any, ...]:
        return (self.op, self.operands)

    def matches(self, labels: Mapping[str, str]) -> bool:
        decisive = self.op == "||"
        for operand in self.operands:
            if operand.matches(labels) == decisive:
                return decisive
        return not decisive

    def select(self, index: LabelIndex) -> int:
        everyone = index.all_bits
        bits = everyone if self.op == "&&" else 0
        for operand in self.operands:
            if self.op == "&&":
                bits &= operand.select(index)
                if not bits:
                    break
            else:
                bits |= operand.select(index)
                if bits == everyone:
                    break
        return bits

    def render(self) -> str:
        parts = []
        for operand in self.operands:
            parts.append(operand.render())
        return "(" + f" {self.op} ".join(parts) + ")"

    def children(self) -> tuple[Expr, ...]:
        return self.operands


class Selector:
    """A parsed selector; equal selectors (equal trees) render to the same canonical text."""

    __slots__ = ("root", "canonical", "keys", "uses_global")

    def __init__(self, root: Expr) -> None:
        """Walk the tree once, without recursion, before anything recurses into it."""
        self.root: Final = root
        keys: set[str] = set()
        uses_global, deepest, pending = False, 0, [(self.root, 1)]
        while pending:
            node, depth = pending.pop()
            deepest = max(deepest, depth)
            keys.add(getattr(node, "key", ""))
            uses_global = uses_global or node == GLOBAL
            pending.extend((child, depth + 1) for child in node.children())
        if deepest > MAX_DEPTH:
            raise SelectorError(f"selector nests {deepest} levels deep; at most {MAX_DEPTH} are supported")
        self.keys: Final = frozenset(keys - {""})
        self.uses_global: Final = uses_global
        self.canonical: Final = root.render()

    def __eq__(self, other: object) -> bool:
        return self.root == other.root if isinstance(other, Selector) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.root)

    @property
    def is_all(self) -> bool:
        """True only for empty text or all() (Calico's own AST collapses ``(all())`` and ``!!all()``)."""
        return self.root == ALL

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.root.matches(labels)

    def select(self, index: LabelIndex) -> int:
        return self.root.select(index)

    def __str__(self) -> str:
        return self.canonical

    def __repr__(self) -> str:
        return f"Selector({self.canonical!r})"


# ---------------------------------------------------------------- parser

_LEAVES = {"all()": ALL, "global()": GLOBAL}


class _Parser:
    """Recursive descent in shape, but with an explicit stack for parentheses, so nesting cannot overflow."""

    def __init__(self, text: str) -> None:
        self.text, self.tokens, self.i = text, _tokenize(text), 0

    def fail(self, expected: str, note: str = "") -> NoReturn:
        tok = self.tokens[self.i]
        if tok.error:
            raise SelectorError(tok.error, tok.pos)
        if tok.kind == _EOF or tok.kind == _ERROR:
            found = _found_at(self.text, tok.pos)
        elif tok.kind == _STRING:
            found = f"the string {self.text[tok.pos : tok.end][:40]}"
        else:
            found = f"'{self.text[tok.pos : tok.end][:40]}'"
        raise SelectorError(f"expected {expected}, found {found}{note}", tok.pos)

    def parse(self) -> Expr:
        opened: list[tuple[list[Expr], list[Expr], bool, int]] = []
        ors: list[Expr] = []
        ands: list[Expr] = []
        while True:
            negated = False
            while self.tokens[self.i].kind == _NOT:
                negated, self.i = not negated, self.i + 1
            if self.tokens[self.i].kind == "(":
                opened.append((ors, ands, negated, self.tokens[self.i].pos))
                ors, ands, self.i = [], [], self.i + 1
                continue
            node = self.operation()
            node = NotExpr(node) if negated else node
            while True:
                ands.append(node)
                kind = self.tokens[self.i].kind
                if kind == "&&":
                    break
                ors.append(ands[0] if len(ands) == 1 else JunctionExpr("&&", tuple(ands)))
                ands = []
                if kind == "||":
                    break
                expr = ors[0] if len(ors) == 1 else JunctionExpr("||", tuple(ors))
                if not opened:
                    if kind == _EOF:
                        return expr
                    self.fail("'&&', '||' or end of selector", " with no matching '('" if kind == ")" else "")
                if kind != ")":
                    self.fail(f"'&&', '||' or ')' to close the '(' at column {opened[-1][3] + 1}")
                ors, ands, negated, _ = opened.pop()
                node = NotExpr(expr) if negated else expr
                self.i += 1
            self.i += 1

    def operation(self) -> Expr:
        tok = self.tokens[self.i]
        if tok.kind == "has()":
            self.i += 1
            return HasExpr(tok.value)
        if tok.kind in _LEAVES:
            self.i += 1
            return _LEAVES[tok.kind]
        if tok.kind != _LABEL:
            self.fail(_OPERAND)
        self.i += 1
        op = self.tokens[self.i].kind
        if op in _TESTS:
            self.i += 1
            if self.tokens[self.i].kind != _STRING:
                self.fail(f"a quoted string after '{op}'")
            self.i += 1
            return ValueExpr(tok.value, op, self.tokens[self.i - 1].value)
        if op in ("in", "not in"):
            self.i += 1
            return SetExpr(tok.value, op, self.set_literal(op))
        self.fail(f"an operator ({_OPERATORS}) after label '{tok.value[:40]}'")

    def set_literal(self, op: str) -> frozenset[str]:
        if self.tokens[self.i].kind != "{":
            self.fail(f"'{{' to start the set after '{op}'")
        self.i += 1
        values: set[str] = set()
        while self.tokens[self.i].kind != "}":
            if self.tokens[self.i].kind != _STRING:
                self.fail("a quoted string or '}' in the set")
            values.add(self.tokens[self.i].value)
            self.i += 1
            if self.tokens[self.i].kind == ",":
                self.i += 1
            elif self.tokens[self.i].kind != "}":
                self.fail("',' or '}' after a set item")
        self.i += 1
        return frozenset(values)


def parse_selector(text: str) -> Selector:
    """Parse Calico selector text; raises SelectorError (and nothing else) for anything Calico rejects."""
    if not isinstance(text, str):
        raise SelectorError(f"a selector must be a string, not {type(text).__name__}")
    return _parse_cached(str(text))


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Selector:
    return Selector(ALL if _WS.fullmatch(text) else _Parser(text).parse())
