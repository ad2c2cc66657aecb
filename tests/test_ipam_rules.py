"""node-block-limit and pool-capacity with and without an IPAMConfiguration, with strict affinity.

The arithmetic (libcalico-go lib/ipam/ipam.go autoAssign): a node owns at most maxBlocksPerHost blocks per
family (absent or 0: 20), takes blocks pool by pool in name order, and at the limit fails rather than borrows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_support import Linted, lint_paths

from validator.config import Config
from validator.engine import run
from validator.sources.files import load_paths


def pool(name: str, cidr: str, block_size: int | None = None, extra: str = "") -> str:
    size = f"\n  blockSize: {block_size}" if block_size is not None else ""
    return (f"apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {{name: {name}}}\n"
            f"spec:\n  cidr: {cidr}{size}{extra}\n")


def nodes(*pods: int | None, labels: str = "{rack: '1'}") -> str:
    items = ""
    for i, count in enumerate(pods):
        status = f"\n  status: {{allocatable: {{pods: '{count}'}}}}" if count is not None else ""
        items += f"- apiVersion: v1\n  kind: Node\n  metadata: {{name: node-{i}, labels: {labels}}}{status}\n"
    return "apiVersion: v1\nkind: NodeList\nitems:\n" + items


def ipam(max_blocks: int | None = None, strict: bool = False, name: str = "default",
         api: str = "projectcalico.org/v3") -> str:
    kind = "IPAMConfiguration" if api == "projectcalico.org/v3" else "IPAMConfig"
    limit = f"\n  maxBlocksPerHost: {max_blocks}" if max_blocks is not None else ""
    return (f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: {name}}}\n"
            f"spec:\n  strictAffinity: {str(strict).lower()}\n  autoAllocateBlocks: true{limit}\n")


def lint(tmp_path: Path, *documents: str, max_pods: int | None = None) -> Linted:
    path = tmp_path / "cluster.yaml"
    path.write_text("---\n".join(documents), encoding="utf-8")
    config = Config(max_pods=max_pods) if max_pods else None
    return lint_paths(path, config=config)


def messages(linted: Linted, rule: str) -> list[str]:
    return [f.message for f in linted.of(rule)]


# ---------------------------------------------------------------- node-block-limit

def test_block_size_32_gives_twenty_pods_per_node(tmp_path: Path) -> None:
    linted = lint(tmp_path, pool("pods", "10.0.0.0/16", 32), nodes(110, 110))
    found = messages(linted, "node-block-limit")
    assert len(found) == 2
    assert "at most 20 IPv4 addresses, fewer than its 110 pods" in found[0]
    assert "20 x /32 from pods" in found[0] and "Calico's default, no IPAMConfiguration" in found[0]
    assert "cannot allocate new block due to per host block limit" in found[0]
    hint = linted.of("node-block-limit")[0].hint
    assert "blockSize 29 or smaller" in hint  # 20 blocks x 8 addresses = 160 >= 110
    assert all(f.severity == "warning" for f in linted.of("node-block-limit"))


def test_a_node_that_runs_twenty_pods_fits_exactly(tmp_path: Path) -> None:
    assert not lint(tmp_path, pool("pods", "10.0.0.0/16", 32), nodes(20)).of("node-block-limit")


def test_twenty_one_pods_do_not(tmp_path: Path) -> None:
    assert len(lint(tmp_path, pool("pods", "10.0.0.0/16", 32), nodes(21)).of("node-block-limit")) == 1


def test_max_pods_default_comes_from_the_policy(tmp_path: Path) -> None:
    tiny = pool("pods", "10.0.0.0/16", 32)
    assert not lint(tmp_path, tiny, nodes(None), max_pods=20).of("node-block-limit")
    assert lint(tmp_path, tiny, nodes(None), max_pods=21).of("node-block-limit")


@pytest.mark.parametrize("limit", [None, 0])
def test_explicit_zero_or_absent_limit_means_twenty(tmp_path: Path, limit: int | None) -> None:
    found = messages(lint(tmp_path, pool("pods", "10.0.0.0/16", 32), nodes(110), ipam(limit)),
                     "node-block-limit")
    assert len(found) == 1
    assert "at most 20 blocks (Calico's default, as maxBlocksPerHost is 0 or unset" in found[0]


def test_a_higher_limit_lifts_it(tmp_path: Path) -> None:
    assert not lint(tmp_path, pool("pods", "10.0.0.0/16", 32), nodes(110), ipam(110)).of("node-block-limit")
    found = messages(lint(tmp_path, pool("pods", "10.0.0.0/16", 32), nodes(110), ipam(109)),
                     "node-block-limit")
    assert "at most 109 IPv4 addresses" in found[0]
    assert "maxBlocksPerHost 109 in IPAMConfiguration/default" in found[0]


def test_a_low_limit_makes_default_blocks_too_few(tmp_path: Path) -> None:
    """maxBlocksPerHost 1 with /26 blocks: 64 addresses for 110 pods (v1 IPAMConfig form)."""
    linted = lint(tmp_path, pool("pods", "10.0.0.0/16"), nodes(110),
                  ipam(1, strict=True, api="crd.projectcalico.org/v1"))
    found = messages(linted, "node-block-limit")
    assert len(found) == 1 and "at most 64 IPv4 addresses" in found[0] and "IPAMConfig/default" in found[0]
    two = lint(tmp_path, pool("pods", "10.0.0.0/16"), nodes(110), ipam(2, strict=True))
    assert not two.of("node-block-limit")


def test_strict_affinity_does_not_change_the_limit(tmp_path: Path) -> None:
    loose = lint(tmp_path, pool("pods", "10.0.0.0/16", 32), nodes(110), ipam(strict=False))
    strict = lint(tmp_path, pool("pods", "10.0.0.0/16", 32), nodes(110), ipam(strict=True))
    assert messages(loose, "node-block-limit") == messages(strict, "node-block-limit") != []


def test_a_configuration_not_named_default_is_ignored(tmp_path: Path) -> None:
    linted = lint(tmp_path, pool("pods", "10.0.0.0/16", 32), nodes(110), ipam(200, name="custom"))
    assert "at most 20 blocks" in messages(linted, "node-block-limit")[0]
    assert linted.of("ipam-config-invalid")


def test_pools_are_tried_in_name_order(tmp_path: Path) -> None:
    """Small blocks in the first pool by name bind the node; the same pools named the other way do not."""
    small_first = lint(tmp_path, pool("a-small", "10.1.0.0/16", 32), pool("b-big", "10.2.0.0/16"), nodes(110))
    found = messages(small_first, "node-block-limit")
    assert len(found) == 1 and "20 x /32 from a-small" in found[0]
    big_first = lint(tmp_path, pool("a-big", "10.2.0.0/16"), pool("b-small", "10.1.0.0/16", 32), nodes(110))
    assert not big_first.of("node-block-limit")


def test_a_small_pool_with_few_blocks_is_not_the_block_limit(tmp_path: Path) -> None:
    """8 /32 blocks, then a /26 pool: the node takes 8 + 12 blocks = 8 + 768 addresses."""
    linted = lint(tmp_path, pool("a-small", "10.1.0.0/29", 32), pool("b-big", "10.2.0.0/16"), nodes(110))
    assert not linted.of("node-block-limit")


def test_pools_it_cannot_use_do_not_count(tmp_path: Path) -> None:
    unusable = [
        pool("a", "10.1.0.0/16", 32, "\n  disabled: true"),
        pool("b", "10.2.0.0/16", 32, "\n  assignmentMode: Manual"),
        pool("c", "10.3.0.0/16", 32, "\n  allowedUses: [Workload]\n  namespaceSelector: team == 'x'"),
        pool("d", "10.4.0.0/16", 32, "\nstatus: {conditions: [{type: Allocatable, status: 'False', "
             "reason: CIDROverlap, message: overlap}]}"),
        pool("e", "10.5.0.0/16", 32, "\n  nodeSelector: rack == '2'"),
    ]
    assert not lint(tmp_path, *unusable, pool("z", "10.9.0.0/16"), nodes(110)).of("node-block-limit")


def test_ipv6_blocks_of_one_address(tmp_path: Path) -> None:
    found = messages(lint(tmp_path, pool("v6", "fd00::/112", 128), nodes(110)), "node-block-limit")
    assert len(found) == 1 and "at most 20 IPv6 addresses" in found[0]


def test_without_nodes_each_pool_is_checked_for_a_node_it_serves(tmp_path: Path) -> None:
    linted = lint(tmp_path, pool("pods", "10.0.0.0/16", 30))
    found = messages(linted, "node-block-limit")
    assert len(found) == 1 and "at most 80 IPv4 addresses, fewer than 110 pods" in found[0]
    assert linted.of("node-block-limit")[0].resource.name == "pods"
    assert not lint(tmp_path, pool("pods", "10.0.0.0/16", 29)).of("node-block-limit")


def test_without_nodes_a_fallback_pool_first_in_name_order_serves_them(tmp_path: Path) -> None:
    rack = "\n  nodeSelector: rack == '1'"
    ok = lint(tmp_path, pool("a-default", "10.0.0.0/16"), pool("b-rack", "10.1.0.0/16", 32, rack))
    assert not ok.of("node-block-limit")
    bad = lint(tmp_path, pool("a-rack", "10.1.0.0/16", 32, rack), pool("b-default", "10.0.0.0/16"))
    assert [f.resource.name for f in bad.of("node-block-limit")] == ["a-rack"]


def test_nodes_are_grouped_by_the_pools_that_serve_them(tmp_path: Path) -> None:
    documents = [pool("a-rack1", "10.1.0.0/16", 32, "\n  nodeSelector: rack == '1'"),
                 pool("z-all", "10.0.0.0/16"),
                 nodes(110, 110, labels="{rack: '1'}").replace("node-", "r1-"),
                 nodes(110, 110, labels="{rack: '2'}").replace("node-", "r2-")]
    linted = lint(tmp_path, *documents)
    assert sorted(f.resource.name for f in linted.of("node-block-limit")) == ["r1-0", "r1-1"]


# ---------------------------------------------------------------- pool-capacity

def capacity(linted: Linted) -> dict[str, str]:
    return {f.subject: f.message for f in linted.of("pool-capacity")}


def test_strict_affinity_counts_whole_blocks_per_node(tmp_path: Path) -> None:
    """/24 pool, /26 blocks (4): 3 nodes of 80 pods need 2 blocks each. 240 addresses fit in 256 when nodes
    may borrow; with strictAffinity they need 6 blocks."""
    documents = [pool("rack", "10.0.0.0/24"), nodes(80, 80, 80)]
    assert capacity(lint(tmp_path, *documents)) == {}
    assert capacity(lint(tmp_path, *documents, ipam(strict=False))) == {}
    found = capacity(lint(tmp_path, *documents, ipam(strict=True)))
    assert list(found) == ["blocks"]
    assert ("has 4 /26 blocks, but with strictAffinity the 3 nodes it selects cannot borrow and need 6"
            in found["blocks"])
    assert "at most 20 per node" in found["blocks"]


def test_strict_affinity_need_is_capped_by_the_block_limit(tmp_path: Path) -> None:
    """One node of 110 pods with /28 blocks needs 7 blocks; with maxBlocksPerHost 2 it can own only 2."""
    documents = [pool("rack", "10.0.0.0/27", 28), nodes(110)]
    assert "need 7" in capacity(lint(tmp_path, *documents, ipam(strict=True)))["blocks"]
    assert capacity(lint(tmp_path, *documents, ipam(2, strict=True))) == {}


def test_without_strict_affinity_addresses_count(tmp_path: Path) -> None:
    found = capacity(lint(tmp_path, pool("rack", "10.0.0.0/24"), nodes(110, 110, 110)))
    assert list(found) == ["addresses"]
    assert "256 addresses for 3 nodes that can run 330 pods" in found["addresses"]


def test_block_limit_caps_what_a_node_can_draw(tmp_path: Path) -> None:
    """/32 blocks: each node can hold 20 addresses, so 20 nodes need 400 of the pool's 256, not 2,200."""
    documents = [pool("rack", "10.0.0.0/24", 32), nodes(*[110] * 20)]
    found = capacity(lint(tmp_path, *documents))
    assert "256 addresses for 20 nodes that can run 400 pods" in found["addresses"]
    assert capacity(lint(tmp_path, *documents, ipam(10))) == {}


def test_fewer_blocks_than_nodes_without_strict_affinity_means_borrowing(tmp_path: Path) -> None:
    found = capacity(lint(tmp_path, pool("rack", "10.0.0.0/25"), nodes(20, 20, 20)))
    assert list(found) == ["blocks"] and "borrow addresses from other nodes' blocks" in found["blocks"]


def test_engine_reads_ipam_configuration_from_a_separate_file(tmp_path: Path) -> None:
    (tmp_path / "pools.yaml").write_text(pool("pods", "10.0.0.0/16", 32))
    (tmp_path / "nodes.yaml").write_text(nodes(110))
    (tmp_path / "ipam.yaml").write_text(ipam(200))
    result = run(load_paths([str(tmp_path)]))
    assert not [f for f in result.findings if f.rule == "node-block-limit"]
