"""How long is one exporter pass at 5,000 nodes beyond the audit itself, and how many series does it publish?

    python bench/bench_exporter.py                  # 5,000 nodes x 110 pods, one pool; then 50 rack pools
    python bench/bench_exporter.py --nodes 500 --rounds 1

The state is generated in memory (tests/exporter_scale.py: 2 /26 blocks per node, 110 pod addresses and a
VXLAN tunnel address each, every pod known by its Calico annotation, as the exporter reads pods), so the
figures leave out the API reads. Per round, in the same process one after the other:

    audit       validator.audit.core.audit(state), the cycle collector paused as the exporter pauses it:
                the baseline, what `audit` does with the same state
    series      the exporter's own work on the result: the series snapshot, the text exposition, its gzip
    count       the series and the exposition's size

Each round perturbs one block per node (a pod address freed), so no round repeats the previous input.
Best of --rounds is shown. The machine may be shared: compare the two lines of one run, not runs.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from exporter_scale import NOW, kube_controllers_series, state  # noqa: E402
from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402

from validator.audit.core import audit  # noqa: E402
from validator.audit.model import AuditState, Pod  # noqa: E402
from validator.exporter.series import process_families, snapshot  # noqa: E402
from validator.model import Source  # noqa: E402


def with_pods(generated: AuditState) -> AuditState:
    pods = {}
    for block in generated.blocks:
        for a in block.allocations:
            if a.is_pod:
                pods[(a.namespace, a.pod)] = Pod(a.namespace, a.pod, Source("gen"), a.node,
                                                 annotation_ips=(str(block.address(a.ordinal)),))
    generated.pods = pods
    return generated


def perturb(generated: AuditState, round_: int) -> None:
    """Free one pod address of every node's first block (a different one each round)."""
    for block in generated.blocks[::2]:
        if block.allocations:
            block.allocations.pop(1 + round_ % (len(block.allocations) - 1))
            block.unallocated += 1


def exposition(snap) -> bytes:  # type: ignore[no-untyped-def]
    class Fixed:
        def collect(self):  # type: ignore[no-untyped-def]
            yield from snap.families
            yield from process_families(snap, 0)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())  # type: ignore[arg-type]
    return generate_latest(registry)


def run(nodes: int, racks: int, pods: int, rounds: int) -> None:
    generated = with_pods(state(nodes, racks, pods))
    best_audit = best_series = float("inf")
    for r in range(rounds):
        perturb(generated, r)
        gc.disable()
        started = time.perf_counter()
        result = audit(generated, NOW)
        best_audit = min(best_audit, time.perf_counter() - started)
        started = time.perf_counter()
        snap = snapshot(generated, result, time.time(), 0.0)
        text = exposition(snap)
        packed = gzip.compress(text, compresslevel=5)
        best_series = min(best_series, time.perf_counter() - started)
        gc.enable()
        del result
        gc.collect()
    pools = max(racks, 1)
    print(f"{nodes} nodes x {pods} pods, {pools} pool(s), {len(generated.blocks)} blocks, best of {rounds}:")
    print(f"  audit     {best_audit:6.2f} s   (baseline)")
    print(f"  series    {best_series:6.2f} s   ({100 * best_series / best_audit:.1f} % of the audit)")
    size = f"{len(text) / 1e6:.1f} MB text, {len(packed) / 1e3:.0f} KB gzip"
    print(f"  count     {snap.series_count + 3:,} ({size}); kube-controllers' zero-seeded (pool, node) "
          f"series alone: {kube_controllers_series(nodes, pools):,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=110)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for racks in (0, 50):
        run(args.nodes, racks, args.pods, args.rounds)


if __name__ == "__main__":
    main()
