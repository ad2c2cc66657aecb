"""NodeIndex: the sets it answers with, and that selecting through it is exact and fast at cluster scale."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from validator.nodeindex import NodeIndex
from validator.selector import parse_selector

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"

NODES = [
    {HOST: "n0", ZONE: "a", "rack": "r1"},
    {HOST: "n1", ZONE: "a", "rack": "r2", "gpu": ""},
    {HOST: "n2", ZONE: "b"},
    {},
    {HOST: "n4", ZONE: "a", "rack": "r1"},
]


def test_eq_has_values_and_all_bits() -> None:
    index = NodeIndex(NODES)
    assert (len(index), index.all_bits) == (5, 0b11111)
    assert index.eq(ZONE, "a") == 0b10011
    assert index.eq(ZONE, "b") == 0b00100
    assert index.eq(HOST, "n4") == 0b10000
    assert index.eq(ZONE, "c") == 0
    assert index.eq("nope", "a") == 0
    assert index.has(ZONE) == 0b10111
    assert index.has("gpu") == 0b00010
    assert index.has("nope") == 0
    assert sorted(index.values("rack")) == [("r1", 0b10001), ("r2", 0b00010)]
    assert list(index.values("nope")) == []


@pytest.mark.parametrize(
    ("text", "members"),
    [
        ("", [0, 1, 2, 3, 4]),
        ('rack == "r1"', [0, 4]),
        ('rack != "r1"', [1, 2, 3]),  # members without the label are "not equal"
        ('rack not in {"r1", "r2"}', [2, 3]),
        ('rack in {"r1", "r2"}', [0, 1, 4]),
        ("rack in {}", []),
        ("!has(rack)", [2, 3]),
        ("has(gpu)", [1]),
        (f'{ZONE} == "a" && !has(gpu)', [0, 4]),
        (f'{HOST} starts with "n" && {HOST} ends with "4" || rack == "r2"', [1, 4]),
        (f'{HOST} contains ""', [0, 1, 2, 4]),
        ("global()", [0, 1, 2, 3, 4]),
        ('!(rack == "r1" || has(gpu))', [2, 3]),
    ],
)
def test_select_returns_the_matching_members(text: str, members: list[int]) -> None:
    index = NodeIndex(NODES)
    selector = parse_selector(text)
    bits = index.select(selector)
    assert index.members(bits) == members
    assert index.count(bits) == len(members)
    assert [i for i, labels in enumerate(NODES) if selector.matches(labels)] == members
    assert index.select(text) == bits  # text is parsed for the caller


@pytest.mark.parametrize(
    ("bits", "members"),
    [(0, []), (1, [0]), (0b1010, [1, 3]), (1 << 63 | 1 << 64 | 1 << 9999, [63, 64, 9999])],
)
def test_members_decodes_set_bits_in_order(bits: int, members: list[int]) -> None:
    assert NodeIndex.members(bits) == members
    assert NodeIndex.count(bits) == len(members)


def test_members_refuses_negative_sets() -> None:
    with pytest.raises(ValueError, match="negative"):
        NodeIndex.members(-1)


def test_empty_index_selects_nothing() -> None:
    index = NodeIndex([])
    assert index.all_bits == 0
    assert index.select(parse_selector("all()")) == 0
    assert index.select(parse_selector('a != "b"')) == 0
    assert index.members(index.select(parse_selector("!has(a)"))) == []


def test_select_is_memoised_by_canonical_text() -> None:
    class CountingIndex(NodeIndex):
        calls = 0

        def eq(self, key: str, value: str) -> int:
            CountingIndex.calls += 1
            return super().eq(key, value)

    index = CountingIndex(NODES)
    first = index.select(parse_selector('rack == "r1"'))
    second = index.select(parse_selector("rack=='r1'"))  # other text, same canonical selector
    assert first == second == 0b10001
    assert CountingIndex.calls == 1


TEXT_VALUES = ["", "a", "ab", "ba", "aba", "b\x00a", "\x00", "ä-ö", "node-001", "node-0010", "node-1"]


@pytest.mark.parametrize("op", ["contains", "starts with", "ends with"])
@pytest.mark.parametrize(
    "needle", ["", "a", "b", "ab", "ba", "\x00", "\x00a", "b\x00", "node-0", "-0", "zz", "ö"]
)
def test_text_match_agrees_with_plain_string_tests(op: str, needle: str) -> None:
    label_sets = [{"k": value} for value in TEXT_VALUES] + [{"other": "a"}, {"k": "a"}]
    index = NodeIndex(label_sets)
    tests: dict[str, Callable[[str], bool]] = {
        "contains": lambda v: needle in v,
        "starts with": lambda v: v.startswith(needle),
        "ends with": lambda v: v.endswith(needle),
    }
    expected = [i for i, labels in enumerate(label_sets) if "k" in labels and tests[op](labels["k"])]
    assert index.members(index.text_match("k", op, needle)) == expected
    assert index.text_match("missing", op, needle) == 0


def test_text_match_refuses_other_operators() -> None:
    with pytest.raises(ValueError, match="not a text operator"):
        NodeIndex([{"k": "v"}]).text_match("k", "==", "v")


@settings(max_examples=300)
@given(
    st.lists(
        st.dictionaries(st.sampled_from(["k", "j"]), st.text(alphabet="ab\x00-", max_size=4), max_size=2),
        max_size=15,
    ),
    st.sampled_from(["contains", "starts with", "ends with"]),
    st.text(alphabet="ab\x00-", max_size=3),
)
def test_text_match_property(label_sets: list[dict[str, str]], op: str, needle: str) -> None:
    index = NodeIndex(label_sets)
    test = {"contains": str.__contains__, "starts with": str.startswith, "ends with": str.endswith}[op]
    expected = sum(
        1 << i for i, labels in enumerate(label_sets) if "k" in labels and test(labels["k"], needle)
    )
    assert index.text_match("k", op, needle) == expected


def _cluster(n: int) -> list[dict[str, str]]:
    return [{HOST: f"node-{i:05d}", "rack": f"r{i % 50}", ZONE: f"zone-{i % 3}"} for i in range(n)]


def test_ten_thousand_nodes_exact_counts() -> None:
    index = NodeIndex(_cluster(10_000))

    def count(text: str) -> int:
        return index.count(index.select(parse_selector(text)))

    assert count('rack == "r7"') == 200
    assert count(f'{ZONE} != "zone-1"') == 6667
    assert count(f'{HOST} starts with "node-001"') == 100
    assert count(f'{HOST} ends with "99"') == 100
    assert count(f'{HOST} contains "-0000"') == 10
    assert count(f'rack in {{"r1", "r2"}} && {ZONE} == "zone-0"') == 133
    assert count("!has(rack)") == 0
    assert index.members(index.select(parse_selector(f'{HOST} == "node-09999"'))) == [9999]
    assert len(index.members(index.all_bits)) == 10_000


def test_ten_thousand_selectors_over_ten_thousand_nodes_take_seconds_not_minutes() -> None:
    index = NodeIndex(_cluster(10_000))
    forms = [
        lambda i: f'{HOST} == "node-{i:05d}"',
        lambda i: f'rack in {{"r{i % 50}", "r{(i + 7) % 50}"}} && {HOST} != "node-{i:05d}"',
        lambda i: f'(rack == "r{i % 50}" || {HOST} starts with "node-{i % 100:02d}") && !has(gpu-{i})',
        lambda i: f'{ZONE} == "zone-{i % 3}" && {HOST} not in {{"node-{i:05d}"}}',
        lambda i: f'{HOST} ends with "{i % 1000:03d}" || rack contains "{i}" || {HOST} == "node-{i:05d}"',
    ]
    texts = [forms[i % len(forms)](i) for i in range(10_000)]
    started = time.perf_counter()
    results = [index.select(parse_selector(text)) for text in texts]
    elapsed = time.perf_counter() - started
    assert results[0] == 1
    assert index.members(results[10]) == [10]
    assert index.count(results[3]) == 3333  # the 3334 zone-0 nodes less node-00003
    assert elapsed < 20, f"{elapsed:.1f}s"  # about 1 s on a 2-core machine; the naive way takes minutes
