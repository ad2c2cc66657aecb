"""How many series the exporter publishes at 5,000 nodes (the README states it), from generated states:
one pool of all nodes, and the topology tutorial's rack pools (50 racks of 100 nodes), against
kube-controllers' 3 x pools x nodes."""

from __future__ import annotations

from pathlib import Path

import pytest
from exporter_scale import NOW, kube_controllers_series, state

from validator.audit.core import audit
from validator.exporter.series import snapshot

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
FIXED = 6 + 3 + 1  # leak classes, node states, max_blocks_per_host
PER_POOL = 1 + 2 + 3  # info, blocks by state, addresses by state


@pytest.mark.parametrize(("racks", "pools"), [(0, 1), (50, 50)], ids=["one-pool", "50-racks"])
def test_series_at_5000_nodes(racks: int, pools: int) -> None:
    generated = state(5000, racks)
    snap = snapshot(generated, audit(generated, NOW), 0.0, 0.0)
    # each node: one (pool, node) pair (its own pool selects it and it holds 2 blocks of it), 2 series
    assert snap.series_count == 2 * 5000 + PER_POOL * pools + FIXED
    assert kube_controllers_series(5000, pools) == 15_000 * pools  # 15,000 and 750,000
    exporter_section = README.split("\n## Exporter\n", 1)[1].split("\n## ", 1)[0]
    total = snap.series_count + 3  # and the exporter's own: last success, duration, failures
    assert f"{total:,} series" in exporter_section or f"and {total:,} with" in exporter_section
    assert f"{kube_controllers_series(5000, pools):,}" in exporter_section
