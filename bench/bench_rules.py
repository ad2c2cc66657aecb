"""Does every rule's cost grow linearly with the pools and nodes? Run by hand; prints a table.

    python bench/bench_rules.py                    # 10k, 40k and 100k pools and nodes
    python bench/bench_rules.py --sizes 1000 10000 --no-nodes

The cluster is built in memory (no YAML: bench_lint.py measures reading), from the shape of
bench_lint.py's light data: per-rack IPv4 /24 and IPv6 /64 pools with distinct `rack == "rN"` selectors
(so N pools mean N distinct selectors), an `all()` fallback per family, nodes with about 10 labels (two
per rack), and each pool's manifest for schema-invalid. Without --no-nodes a second pass lints the same
pools with no nodes known (node-block-limit then checks each pool against the fallbacks), and a third
with many all() pools (`--all-every`), the shape that made node-block-limit quadratic.

Each rule runs once over a view whose shared indexes (node index, address index, every pool's node set)
were built first; that warm-up is its own row. The table gives µs per object (pools + nodes) at each size,
so a linear rule shows a flat row; the last column is the ratio of the largest size's figure to the
smallest's (1.0 is linear, 10 would be quadratic from 10k to 100k).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if "--repo" in sys.argv:  # the baseline: another checkout's validator, e.g. --repo /work/main
    REPO = Path(sys.argv[sys.argv.index("--repo") + 1]).resolve()
sys.path.insert(0, str(REPO))

from validator.analysis import ClusterView  # noqa: E402
from validator.config import Config  # noqa: E402
from validator.engine import enabled_rules  # noqa: E402
from validator.model import Cluster, Manifest, Node, Pool, Resource, Source  # noqa: E402
from validator.rules.base import Context  # noqa: E402

V3 = "projectcalico.org/v3"


def pool_body(index: int, all_every: int) -> dict:
    if index < 2:
        cidr = "100.64.0.0/10" if index == 0 else "fd00:20::/48"
        name = f"default-ipv{4 if index == 0 else 6}"
        return {"apiVersion": V3, "kind": "IPPool", "metadata": {"name": name},
                "spec": {"cidr": cidr, "nodeSelector": "all()", "vxlanMode": "CrossSubnet"}}
    rack, family = divmod(index - 2, 2)
    if family == 0:
        spec = {"cidr": f"10.{rack // 256 % 256}.{rack % 256}.0/24", "blockSize": 26, "natOutgoing": True,
                "vxlanMode": "CrossSubnet", "nodeSelector": f'rack == "r{rack}"'}
    else:
        spec = {"cidr": f"fd00:10:{rack // 65536:x}:{rack % 65536:x}::/64", "blockSize": 122,
                "nodeSelector": f'rack == "r{rack}"'}
    if all_every and rack % all_every == 0:
        spec["nodeSelector"] = "all()"
    return {"apiVersion": V3, "kind": "IPPool", "metadata": {"name": f"rack-r{rack}-ipv{4 + 2 * family}"},
            "spec": spec}


def cluster(pools: int, nodes: int, all_every: int = 0) -> Cluster:
    found = Cluster(nodes_known=nodes > 0)
    for i in range(pools):
        body = pool_body(i, all_every)
        resource = Resource(V3, "IPPool", body["metadata"]["name"])
        source = Source(f"pools-{i // 1000:03d}.yaml", 1 + 8 * (i % 1000))
        found.pools.append(Pool(resource, source, body["spec"]))
        found.manifests.append(Manifest(resource, source, body, "ippool"))
    for i in range(nodes):
        name = f"worker-{i:06d}"
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                  "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64", "rack": f"r{i // 2}",
                  "node.kubernetes.io/instance-type": "m6i.4xlarge",
                  "topology.kubernetes.io/zone": f"eu-west-1{'abc'[i // 2 % 3]}", "node-role": "worker"}
        found.nodes.append(Node(Resource("v1", "Node", name), Source(f"nodes-{i // 1000:03d}.yaml", 1),
                                labels))
    return found


def warm(view: ClusterView) -> None:
    view.node_index  # noqa: B018
    view.address_index  # noqa: B018
    for pool in view.pools:
        view.selected_bits(pool)


def timed_rules(pools: int, nodes: int, all_every: int) -> dict[str, float]:
    subject = cluster(pools, nodes, all_every)
    view = ClusterView(subject)
    config = Config()
    times: dict[str, float] = {}
    gc.collect()
    gc.disable()  # as lint pauses the collector: a full collection over 100k objects is not a rule's cost
    try:
        return _time_each(subject, view, config, times)
    finally:
        gc.enable()


def _time_each(subject: Cluster, view: ClusterView, config: Config,
               times: dict[str, float]) -> dict[str, float]:
    start = time.perf_counter()
    warm(view)
    times["(view warm-up)"] = time.perf_counter() - start
    for rule in enabled_rules(config):
        if rule.needs_nodes and not subject.nodes_known:
            continue
        start = time.perf_counter()
        for _ in rule.check(Context(subject, view, config, None, rule)):
            pass
        times[rule.id] = time.perf_counter() - start
    return times


def report(title: str, sizes: list[int], nodes: bool, all_every: int = 0) -> None:
    runs = {size: timed_rules(size, size if nodes else 0, all_every) for size in sizes}
    objects = {size: size * (2 if nodes else 1) for size in sizes}
    names = list(runs[sizes[0]])
    print(f"\n{title}: µs per object (pools + nodes), total seconds in the last column group")
    head = "".join(f"{f'{size:,}':>11}" for size in sizes)
    print(f"{'rule':<28}{head}{'ratio':>8}{'total s':>10}")
    totals = {size: sum(runs[size].values()) for size in sizes}
    for name in [*names, "(all)"]:
        per = [(totals[s] if name == "(all)" else runs[s].get(name, 0.0)) / objects[s] * 1e6 for s in sizes]
        ratio = per[-1] / per[0] if per[0] > 0.05 else float("nan")
        last = totals[sizes[-1]] if name == "(all)" else runs[sizes[-1]].get(name, 0.0)
        print(f"{name:<28}{''.join(f'{p:>11.2f}' for p in per)}{ratio:>8.2f}{last:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 40_000, 100_000])
    parser.add_argument("--repo", help="lint with the validator package of this checkout (a baseline)")
    parser.add_argument("--no-nodes", action="store_true", help="only the passes without nodes")
    parser.add_argument("--all-every", type=int, default=10,
                        help="in the second pass without nodes, every Kth rack's pools select all()")
    args = parser.parse_args()
    print(f"validator from {REPO}")
    if not args.no_nodes:
        report("pools and nodes", args.sizes, nodes=True)
    report("pools only, no nodes known", args.sizes, nodes=False)
    report(f"pools only, no nodes known, every {args.all_every}th rack's pools select all()", args.sizes,
           nodes=False, all_every=args.all_every)


if __name__ == "__main__":
    main()
