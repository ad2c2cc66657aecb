"""The selector language must agree with Calico's libcalico-go/lib/selector, case by case.

Cases marked "parser_test.go" or "tokenizer_test.go" restate cases from those Calico files
(projectcalico/calico, libcalico-go/lib/selector/...) in our own table form.
"""

from __future__ import annotations

import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from validator.nodeindex import NodeIndex
from validator.selector import MAX_DEPTH, Selector, SelectorError, parse_selector

ZONE = "topology.kubernetes.io/zone"

# (selector, labels, expected match)
EQUALS = [
    ('a == "b"', {"a": "b"}, True),  # parser_test.go
    ('a == "b"', {"a": "b", "c": "d"}, True),  # parser_test.go
    ('a == "b"', {}, False),  # parser_test.go: missing label
    ('a == "b"', {"a": "c"}, False),
    ('a == "b"', {"c": "d"}, False),
    ("a == 'a'", {"a": "a"}, True),  # parser_test.go: single quotes
    ('a == ""', {"a": ""}, True),
    ('a == ""', {}, False),
    ('a == "B"', {"a": "b"}, False),  # case-sensitive
    (f'{ZONE} == "eu-1a"', {ZONE: "eu-1a"}, True),
    ('k8s-app == "dns"', {"k8s-app": "dns"}, True),
    ('calico/k8s_NS-.1/role == "x"', {"calico/k8s_NS-.1/role": "x"}, True),  # tokenizer_test.go key
    ('a=="b"', {"a": "b"}, True),  # tokenizer_test.go: no whitespace
    ('\ta\t==\t"b"\t', {"a": "b"}, True),  # tabs are whitespace
    ('a == "it\'s"', {"a": "it's"}, True),  # the other quote inside
    ("a == 'say \"hi\"'", {"a": 'say "hi"'}, True),
    ('a == " b "', {"a": "b"}, False),  # spaces inside a string are kept
    ('a == "x\ny"', {"a": "x\ny"}, True),  # a newline inside a string is just a character
    ('has == "x"', {"has": "x"}, True),  # has/all/global are labels without "("
    ('all == "x"', {"all": "x"}, True),
    ('contains contains "contains"', {"contains": "contains"}, True),  # tokenizer_test.go
]
NOT_EQUALS = [
    ('a != "b"', {"a": "a"}, True),  # parser_test.go
    ('a != "a"', {}, True),  # parser_test.go: a missing label is "not equal"
    ('a != "a"', {"a": "a"}, False),  # parser_test.go
    ("a != 'a'", {"a": "a"}, False),  # parser_test.go
    ('a!="b"', {"a": "b"}, False),  # tokenizer_test.go
    ('a != "b"', {"c": "b"}, True),
]
IN_SETS = [
    ('a in {"\'", \'"\', "c"}', {"a": "c"}, True),  # parser_test.go
    ('a in {"\'", \'"\', "c"}', {"a": '"'}, True),
    ('a in {"\'", \'"\', "c"}', {"a": "'"}, True),
    ('a in {"\'", \'"\', "c"}', {}, False),
    ('a in {"\'", \'"\', "c"}', {"a": "e"}, False),
    ('a in {"a", "b"}', {"a": "b"}, True),  # parser_test.go
    ('a in {"a", "b"}', {"a": "c"}, False),  # parser_test.go
    ('a in {"a",}', {"a": "a"}, True),  # a trailing comma is allowed
    ('a in{"a"}', {"a": "a"}, True),
    ("a in {}", {"a": "a"}, False),  # the empty set matches nothing
    ("a in {}", {}, False),
    ('a in {"a", "a"}', {"a": "a"}, True),
]
NOT_IN_SETS = [
    ('a not in {"\'", \'"\', "c"}', {}, True),  # parser_test.go: missing label is "not in"
    ('a not in {"\'", \'"\', "c"}', {"a": "e"}, True),
    ('a not in {"\'", \'"\', "c"}', {"a": "c"}, False),
    ('a not in {"d", "e"}', {"a": "a"}, True),  # parser_test.go
    ('a not in {"a"}', {"a": "a"}, False),  # parser_test.go
    ('a notin {"a"}', {"a": "b"}, True),  # tokenizer_test.go: "notin" is one operator
    ('a not \t in {"a"}', {"a": "a"}, False),
    ("a not in {}", {}, True),  # the empty set: everything is "not in" it
    ("a not in {}", {"a": "x"}, True),
    ('!a in {"a"}', {"a": "b"}, True),  # parser_test.go: ! negates the whole operation
    ('!a in {"a"}', {}, True),
]
TEXT_TESTS = [
    ('a contains "a"', {"a": "bab"}, True),  # parser_test.go
    ('a contains "a"', {"a": "aaa", "b": "c"}, True),
    ('a contains "a"', {"a": "b"}, False),
    ('a contains "a"', {"b": "aaa"}, False),  # missing label
    ('a contains ""', {"a": ""}, True),
    ('a contains ""', {}, False),
    ('a contains"x"', {"a": "yxy"}, True),  # tokenizer_test.go
    ('a starts with "a"', {"a": "abb"}, True),  # parser_test.go
    ('a starts with "a"', {"a": "baa"}, False),
    ('a starts with "a"', {"b": "aaa"}, False),
    ('a startswith "ab"', {"a": "abc"}, True),  # tokenizer_test.go
    ('a starts  with "ab"', {"a": "abc"}, True),  # tokenizer_test.go
    ('a ends with "a"', {"a": "bba"}, True),  # parser_test.go
    ('a ends with "a"', {"a": "aab"}, False),
    ('a ends with "a"', {}, False),
    ('a endswith "b"', {"a": "ab"}, True),  # tokenizer_test.go
    ('startswith starts with "v"', {"startswith": "value"}, True),  # tokenizer_test.go
    ('!a starts with "x"', {}, True),
]
HAS = [
    ("has(a)", {"a": "b"}, True),  # parser_test.go
    ("has(a)", {"a": ""}, True),
    ("has(b)", {"a": "b"}, False),  # parser_test.go
    ("has( a )", {"a": "b"}, True),
    ("!has(a)", {"b": "b"}, True),  # parser_test.go
    ("!has(a)", {"a": "b"}, False),  # parser_test.go
    ("! has(a)", {"a": "b"}, False),  # parser_test.go
    ("!!has(b)", {"a": "b"}, False),  # parser_test.go: !! cancels
    ("!!!has(a)", {"a": "b"}, False),  # parser_test.go
    ("!! ! has(a)", {"a": "b"}, False),  # parser_test.go
    (f"has({ZONE})", {ZONE: "x"}, True),
]
ALL_AND_GLOBAL = [
    ("", {}, True),  # parser_test.go: empty is all()
    (" ", {"a": "b"}, True),  # parser_test.go
    ("\t", {"a": "b"}, True),
    ("all()", {}, True),  # parser_test.go
    (" all( ) ", {"a": "b"}, True),
    ("global()", {}, True),  # parser_test.go: global() is true for any labels
    (" global( )", {"a": "b"}, True),
    ("!all()", {}, False),
    ("!global()", {"a": "b"}, False),
    ("((all()))", {}, True),
]
BOOLEAN = [
    ('a == "b" && c == "d"', {"a": "b", "c": "d"}, True),  # parser_test.go
    ('a == "b" && c == "d"', {"a": "b", "c": "e"}, False),
    ('a == "b" && c == "d"', {"a": "b"}, False),
    ('a == "b" || c == "d"', {"c": "d"}, True),  # parser_test.go
    ('a == "b" || c == "d"', {"a": "e", "c": "e"}, False),
    ('a=="b"&&c!="d"', {"a": "b"}, True),
    ('a=="b"||c=="d"&&e=="f"', {"a": "b"}, True),  # && binds tighter than ||
    ('a=="b"||c=="d"&&e=="f"', {"c": "d"}, False),
    ('(a=="b"||c=="d")&&e=="f"', {"a": "b"}, False),
    ('(a=="b"||c=="d")&&e=="f"', {"c": "d", "e": "f"}, True),
    ("a != 'a1' && !b == 'b1'", {"a": "a1", "b": "b1"}, False),  # parser_test.go
    ("!a == 'a1' && b == 'b1'", {"a": "a1", "b": "b1"}, False),  # parser_test.go: ! binds to one operation
    ("!a == 'a1' && b == 'b1'", {"a": "x", "b": "b1"}, True),
    ("has(a) && !has(b)", {"a": "a"}, True),  # parser_test.go
    ("!(!has(a) || has(b))", {"a": "a"}, True),  # parser_test.go
    ("!(has(b) || !has(a))", {"a": "a"}, True),  # parser_test.go
    ("a != 'a1' || b != 'b1'", {"a": "a1", "b": "b1"}, False),  # parser_test.go
    ("! a == 'a1' || ! b == 'b1'", {"a": "a1", "b": "b1"}, False),  # parser_test.go
    ("a == 'a1' || b != 'b1'", {"a": "a1", "b": "b1"}, True),  # parser_test.go
    ('!(a == "x" && (b == "y" || !has(c)))', {"a": "x", "b": "n", "c": "1"}, True),
    ('!(a == "x" && (b == "y" || !has(c)))', {"a": "x"}, False),
    ('((a == "x"))', {"a": "x"}, True),
    ('(!(a == "x"))', {"a": "x"}, False),
    ('!(!(a == "x"))', {"a": "x"}, True),
    ("has(a) && all()", {}, False),
    ("has(a) || global()", {}, True),
]
CASES = EQUALS + NOT_EQUALS + IN_SETS + NOT_IN_SETS + TEXT_TESTS + HAS + ALL_AND_GLOBAL + BOOLEAN


@pytest.mark.parametrize(("text", "labels", "expected"), CASES)
def test_matches_like_calico(text: str, labels: dict[str, str], expected: bool) -> None:
    selector = parse_selector(text)
    assert selector.matches(labels) is expected
    assert parse_selector(str(selector)).matches(labels) is expected
    assert selector.select(NodeIndex([labels])) == int(expected)


# (selector, 1-based column of the error); cases from parser_test.go badSelectors and tokenizer_test.go
INVALID = [
    ("b == b", 6),  # parser_test.go: a label is not a value
    ("b contains b", 12),
    ("b starts with b", 15),
    ("b ends with b", 13),
    ("'b1' == b", 1),  # a literal on the left
    ("b", 2),  # a bare label
    ("a b", 3),
    ("!", 2),
    ('foo == "bar" &', 14),
    ('foo == "bar" |', 14),
    ("foo != ||", 8),
    ('foo in {"", ||', 13),
    ('foo in ""', 8),  # a set needs braces
    ('"FOO', 1),  # unterminated strings
    ("\"FOO'", 1),
    ("'FOO", 1),
    ("(", 2),
    ('(a == "foo"', 12),
    (")", 1),
    ("()", 2),
    ("%", 1),
    ('a == "b" && %', 13),
    ('a == "b" || %', 13),
    ("a ", 3),
    ("has(foo) &&", 12),
    ("a" * 513 + ' == "value"', 1),  # tokenizer_test.go: labels are at most 512 characters
    ('label == "value', 10),
    ('label = "value"', 7),
    ("all(", 5),
    ("global(", 8),
    ("has()", 5),
    ("has(foo", 8),
    ("has( foo ", 10),
    ('a == "b" & has(foo)', 10),
    ('label starts foo "value"', 7),
    ('label inf "value"', 7),
    ('label ends withs "value"', 7),
    ('label squiggles "value"', 7),
    ('a == "b"\n', 9),  # our own cases from here: only space and tab are whitespace
    ('a == "b"\n&& c == "d"', 9),
    ('\na == "b"', 1),
    ('a == "b")', 9),
    ('(a == "b"))', 11),
    ('a in {"x" "y"}', 11),
    ("a in {,}", 7),
    ('a in {"x",,}', 11),
    ('a in {"x"', 10),
    ("has (a)", 5),  # no space allowed between has and (
    ("all ()", 5),
    ("a ==", 5),
    ('a === "b"', 5),
    ('a == "b" && && b == "c"', 13),
    ('&& a == "b"', 1),
    ("!has(a) has(b)", 9),
    ("a.b/c == 'x' ||", 16),
    ('a not "x"', 3),
    ('zoné == "x"', 4),  # labels are ASCII only
    ('a == "b" || (c == "d"', 22),
    ('a == "x" && b in {"y"} && c', 28),
    ("has(a b)", 7),
    (f"has({'k' * 513})", 5),
]


@pytest.mark.parametrize(("text", "column"), INVALID)
def test_rejects_what_calico_rejects(text: str, column: int) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_selector(text)
    assert caught.value.position == column - 1
    assert str(caught.value).startswith(f"column {column}: ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a == b", "column 6: expected a quoted string after '==', found 'b'"),
        ("a in (", "column 6: expected '{' to start the set after 'in', found '('"),
        (
            '(a == "x"',
            "column 10: expected '&&', '||' or ')' to close the '(' at column 1, found end of selector",
        ),
        ('a == "x")', "column 9: expected '&&', '||' or end of selector, found ')' with no matching '('"),
        ('a == "x" "y"', "column 10: expected '&&', '||' or end of selector, found the string \"y\""),
        ("a == 'x", "column 6: unterminated string: no closing ' after the one here"),
        ('a = "x"', "column 3: expected '==', found a single '='"),
        ('a in {"x" &&', "column 11: expected ',' or '}' after a set item, found '&&'"),
        (
            'a == "x"\n',
            "column 9: expected '&&', '||' or end of selector, found a newline "
            "(only spaces and tabs may separate tokens)",
        ),
        (
            'zone is "a"',
            "column 6: expected an operator (==, !=, in, not in, contains, starts with, ends with) "
            "after label 'zone', found 'is'",
        ),
        ("has(", "column 5: expected a label name after 'has(', found end of selector"),
        ("all(x)", "column 5: expected ')' to close 'all(', found 'x'"),
    ],
)
def test_error_messages_say_what_was_expected_and_where(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_selector(text)
    assert str(caught.value) == message


@pytest.mark.parametrize("value", [None, 42, b'a == "b"', ["a"], {"a": "b"}])
def test_non_strings_raise_selector_error(value: object) -> None:
    with pytest.raises(SelectorError, match="column 1: a selector must be a string, not "):
        parse_selector(value)  # type: ignore[arg-type]


def test_selector_error_is_a_value_error_and_survives_pickling() -> None:
    with pytest.raises(ValueError) as caught:
        parse_selector("a ==")
    original = caught.value
    assert isinstance(original, SelectorError)
    copy = pickle.loads(pickle.dumps(original))
    assert (copy.position, copy.reason, str(copy)) == (4, original.reason, str(original))


# Calico's canonicalisationTests and Visitor entries (parser_test.go), plus our own
CANONICAL = [
    ("", "all()"),
    (" all() ", "all()"),
    (" (all() )", "all()"),
    ("! (has( b)||! has(a ))", "!(has(b) || !has(a))"),
    ('! (a == "b"&&! c != "d")', '!(a == "b" && !c != "d")'),
    ('a == "\'"', 'a == "\'"'),
    ("a == '\"'", "a == '\"'"),
    ("a contains '\"'", "a contains '\"'"),
    ("a startswith '\"'", "a starts with '\"'"),
    ('a endswith "\'"', 'a ends with "\'"'),
    ("a!='\"'", "a != '\"'"),
    ('a in {"d", "a", "b"}', 'a in {"a", "b", "d"}'),
    ('a in {"z", "z", "x", "y", "x", "a"}', 'a in {"a", "x", "y", "z"}'),
    ("k == 'v'", 'k == "v"'),
    ("!(k == 'v')", '!k == "v"'),
    ("k == 'v' && x == 'y'", '(k == "v" && x == "y")'),
    ("k == 'v' || has(x)", '(k == "v" || has(x))'),
    ("k not in {'v'}", 'k not in {"v"}'),
    (
        "!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))",
        '!(!((k == "v" && has(t)) || all()) && a in {"b", "c"})',
    ),
    ("a in {}", "a in {}"),
    ('a notin{"x",}', 'a not in {"x"}'),
    ("global( )", "global()"),
    ("!!all()", "all()"),
    ('(a == "1" && b == "2") && c == "3"', '((a == "1" && b == "2") && c == "3")'),
    ('!(!a == "b")', '!(!a == "b")'),  # ours: Calico renders !!a == "b", which would parse to a == "b"
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL)
def test_canonical_text_like_calico_string(text: str, canonical: str) -> None:
    selector = parse_selector(text)
    assert str(selector) == canonical
    again = parse_selector(canonical)
    assert again == selector
    assert str(again) == canonical


ROUND_TRIP_LABELS: list[dict[str, str]] = [
    {},
    {"a": "b"},
    {"a": "x", "b": "y", "c": "1"},
    {"k": "v", "t": ""},
    {"a": "'", "b": '"'},
    {ZONE: "eu-1a", "rack": "r1"},
]


@pytest.mark.parametrize("text", [text for text, _, _ in CASES])
def test_round_trip_matches_the_same(text: str) -> None:
    selector = parse_selector(text)
    again = parse_selector(str(selector))
    assert again == selector
    for labels in ROUND_TRIP_LABELS:
        assert again.matches(labels) == selector.matches(labels)


@pytest.mark.parametrize(
    ("text", "keys", "is_all", "uses_global"),
    [
        ("", set(), True, False),
        ("   ", set(), True, False),
        ("all()", set(), True, False),
        (" ( ( all( ) ) ) ", set(), True, False),
        ("!!all()", set(), True, False),  # Calico's parser folds !! away: still all()
        ("!all()", set(), False, False),
        ("all() && all()", set(), False, False),  # no tautology proving
        ("all() || has(a)", {"a"}, False, False),
        ("global()", set(), False, True),
        ("!global() || has(a)", {"a"}, False, True),
        ("a == 'global()'", {"a"}, False, False),  # a string is not a global() operation
        ('a == "b" && (has(c) || d not in {"x"})', {"a", "c", "d"}, False, False),
        (
            f'{ZONE} in {{}} && !has(kubernetes.io/hostname) && r ends with "1"',
            {ZONE, "kubernetes.io/hostname", "r"},
            False,
            False,
        ),
    ],
)
def test_keys_is_all_and_uses_global(text: str, keys: set[str], is_all: bool, uses_global: bool) -> None:
    selector = parse_selector(text)
    assert (selector.keys, selector.is_all, selector.uses_global) == (frozenset(keys), is_all, uses_global)


def test_parsing_is_memoised_and_equal_selectors_are_equal() -> None:
    assert parse_selector('a == "b"') is parse_selector('a == "b"')
    assert parse_selector('a=="b"') == parse_selector("a == 'b'")
    assert hash(parse_selector('a=="b"')) == hash(parse_selector("a == 'b'"))
    assert parse_selector("has(a)") != parse_selector("!has(a)")
    assert parse_selector("all()") != parse_selector("global()")
    assert repr(parse_selector("a=='b'")) == "Selector('a == \"b\"')"


def test_label_keys_up_to_512_characters() -> None:
    key = "k" * 512
    assert parse_selector(f'{key} == "v"').matches({key: "v"})
    assert parse_selector(f"has({key})").keys == {key}


def test_deep_nesting_parses_without_recursion_limits() -> None:
    depth = 341  # about the deepest a 1024-character pool selector can be
    selector = parse_selector("!(" * depth + 'a == "b"' + ")" * depth)
    assert selector.matches({"a": "b"}) is (depth % 2 == 0)
    assert selector.select(NodeIndex([{"a": "b"}, {}])) == (0b10 if depth % 2 else 0b01)
    assert parse_selector("(" * 5000 + "has(a)" + ")" * 5000) == parse_selector("has(a)")


def test_nesting_beyond_the_limit_is_a_selector_error() -> None:
    with pytest.raises(SelectorError, match=f"at most {MAX_DEPTH}"):
        parse_selector("!(" * (MAX_DEPTH + 1) + "all()" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(SelectorError, match="column 100001: expected a label"):
        parse_selector("(" * 100_000)


# ---------------------------------------------------------------- properties

KEYS = ["a", "b", ZONE, "k8s-app"]
VALUES = ["", "a", "b", "ab", "eu-1a", "it's", 'say "hi"']
_space = st.sampled_from(["", " ", "\t", "  "])
_gap = st.sampled_from([" ", "\t", "  "])  # between a label and a word operator


@st.composite
def _string_literals(draw: st.DrawFn) -> str:
    value = draw(st.sampled_from(VALUES))
    quote = draw(st.sampled_from([q for q in "\"'" if q not in value]))
    return f"{quote}{value}{quote}"


@st.composite
def _leaves(draw: st.DrawFn) -> str:
    key, s = draw(st.sampled_from(KEYS)), draw(_space)
    kind = draw(st.sampled_from(["==", "!=", "word", "set", "has", "all", "global"]))
    if kind in ("==", "!="):
        return f"{key}{s}{kind}{draw(_space)}{draw(_string_literals())}"
    if kind == "word":
        op = draw(st.sampled_from(["contains", "starts with", "startswith", "ends  with", "endswith"]))
        return f"{key}{draw(_gap)}{op}{s}{draw(_string_literals())}"
    if kind == "set":
        op = draw(st.sampled_from(["in", "not in", "notin"]))
        items = draw(st.lists(_string_literals(), max_size=3))
        comma = draw(st.booleans())
        trailing = "," if items and comma else ""
        return f"{key}{draw(_gap)}{op}{s}{{{s}{(',' + s).join(items)}{trailing}}}"
    if kind == "has":
        return f"has({s}{key}{s})"
    return f"{kind}({s})"


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    joined = st.tuples(st.lists(children, min_size=2, max_size=3), st.sampled_from(["&&", "||"]), _space)
    return st.one_of(
        joined.map(lambda t: f"{t[2]}{t[1]}{t[2]}".join(t[0])),
        st.tuples(st.sampled_from(["!", "! ", "!!"]), children).map("".join),
        st.tuples(_space, children, _space).map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
    )


selectors = st.recursive(_leaves(), _combine, max_leaves=8)
label_sets = st.lists(
    st.dictionaries(st.sampled_from(KEYS), st.sampled_from([*VALUES, "a b", "aab"]), max_size=4), max_size=12
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(selectors, label_sets)
def test_generated_selectors_parse_round_trip_and_select_agrees(
    text: str, labels: list[dict[str, str]]
) -> None:
    selector = parse_selector(text)
    again = parse_selector(str(selector))
    assert again == selector and str(again) == str(selector)
    expected = sum(1 << i for i, member in enumerate(labels) if selector.matches(member))
    assert selector.select(NodeIndex(labels)) == expected
    assert selector.select(_ScanIndex(labels)) == expected
    assert [again.matches(member) for member in labels] == [selector.matches(member) for member in labels]


class _ScanIndex:
    """The plain LabelIndex protocol (no text_match), so nodes' own values() scan is tested too."""

    def __init__(self, label_sets: list[dict[str, str]]) -> None:
        self.label_sets = label_sets
        self.all_bits = (1 << len(label_sets)) - 1

    def _where(self, test: object) -> int:
        return sum(1 << i for i, labels in enumerate(self.label_sets) if callable(test) and test(labels))

    def eq(self, key: str, value: str) -> int:
        return self._where(lambda labels: labels.get(key) == value)

    def has(self, key: str) -> int:
        return self._where(lambda labels: key in labels)

    def values(self, key: str) -> list[tuple[str, int]]:
        found = {labels[key] for labels in self.label_sets if key in labels}
        return [(value, self.eq(key, value)) for value in found]


_SELECTOR_CHARS = " \t\n()!&|=\"'{},abhinotcsewlgrdu.-_/%é"


@settings(max_examples=2000)
@given(st.one_of(st.text(), st.text(alphabet=_SELECTOR_CHARS, max_size=40)))
def test_arbitrary_text_raises_only_selector_error(text: str) -> None:
    try:
        selector = parse_selector(text)
    except SelectorError as err:
        assert 0 <= err.position <= len(text)
        assert str(err).startswith(f"column {err.position + 1}: ")
    else:
        assert isinstance(selector, Selector)
        assert parse_selector(str(selector)) == selector
