"""How fast and how big is `ippool-validator audit` on a 5,000-node dump, next to `json.load` of it?

    python bench/bench_audit.py                      # 5,000 nodes x 110 pods (about 460 MB of JSON)
    python bench/bench_audit.py --nodes 500 --repeat 1

It generates (seeded) what `kubectl get ... -o json` would dump for a cluster of N nodes running P pods
each, as compact JSON (what the API server sends; `kubectl -o json` indents it, some 1.6x the bytes):

    blocks.json      2 IPAMBlocks (/26) per node: P pods + 1 VXLAN tunnel address = 111 allocations,
                     attributes shaped as the CNI writes them (handle, namespace, pod, node, timestamp)
    handles.json     one IPAMHandle per allocation (555,000 at the default size)
    affinities.json  one BlockAffinity per block
    cluster.json     one /12 IPPool, the IPAMConfig and N Nodes (labels, allocatable pods)

Every figure comes from a fresh subprocess, so peak RSS (`ru_maxrss`) is that step's own; each is the
best of --repeat rounds, and a round runs the steps one after the other, so that a busy machine slows
them alike:

    json.load blocks        json.load of blocks.json: the floor of any Python reader of the blocks
    json.load all           json.load of every file, as a reader that is not streamed would hold them
    audit                   `python -m validator.cli audit DIR --format json` (start-up included)

Pods are not dumped (550,000 pods are gigabytes even as metadata), so address-leaked and
dual-stack-mismatch are skipped, as the audit says; everything else, handles included, runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHILD_LOAD = """
import json, resource, sys, time
start = time.perf_counter()
for name in sys.argv[1:]:
    with open(name, encoding="utf-8") as f:
        json.load(f)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime,
                  "rss": usage.ru_maxrss * 1024}))
"""
CHILD_AUDIT = """
import json, resource, sys, time
start = time.perf_counter()
from click.testing import CliRunner
from validator.cli import main
result = CliRunner().invoke(main, ["audit", sys.argv[1], "--format", "json", "--now", "2026-12-01T09:00:00Z"])
doc = json.loads(result.stdout)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - start, "exit": result.exit_code,
                  "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss * 1024,
                  "summary": doc["summary"]}))
"""


def generate(folder: Path, nodes: int, pods: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    base = 10 << 24 | 16 << 16  # 10.16.0.0/12
    stamp = "2026-11-30 12:00:00.123456789 +0000 UTC"
    counts = {"blocks": 0, "allocations": 0, "handles": 0}
    with (
        open(folder / "blocks.json", "w") as blocks,
        open(folder / "handles.json", "w") as handles,
        open(folder / "affinities.json", "w") as affinities,
    ):
        for f in (blocks, handles, affinities):
            f.write('{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":""},"items":[')
        first = True
        for n in range(nodes):
            name = f"node-{n:05}"
            owners = [
                (
                    f"vxlan-tunnel-addr-{name}",
                    {"node": name, "type": "vxlanTunnelAddress", "timestamp": stamp},
                )
            ]
            for p in range(pods):
                pod = f"app-{rng.randrange(1 << 30):08x}-{p}"
                owners.append(
                    (
                        f"k8s-pod-network.{rng.randrange(1 << 256):064x}",
                        {"namespace": f"team-{n % 40}", "node": name, "pod": pod, "timestamp": stamp},
                    )
                )
            for b in range(2):
                start = base + (2 * n + b) * 64
                cidr = f"{start >> 24}.{start >> 16 & 255}.{start >> 8 & 255}.{start & 255}/26"
                chunk = owners[b * 64 : (b + 1) * 64]
                block = {
                    "apiVersion": "crd.projectcalico.org/v1",
                    "kind": "IPAMBlock",
                    "metadata": {"name": cidr.replace(".", "-").replace("/", "-"), "resourceVersion": "1"},
                    "spec": {
                        "cidr": cidr,
                        "affinity": f"host:{name}",
                        "affinityClaimTime": "2026-11-01T00:00:00Z",
                        "strictAffinity": False,
                        "sequenceNumber": 1,
                        "allocations": list(range(len(chunk))) + [None] * (64 - len(chunk)),
                        "unallocated": list(range(len(chunk), 64)),
                        "attributes": [{"handle_id": h, "secondary": attrs} for h, attrs in chunk],
                        "sequenceNumberForAllocation": {str(i): 1 for i in range(len(chunk))},
                    },
                }
                affinity = {
                    "apiVersion": "crd.projectcalico.org/v1",
                    "kind": "BlockAffinity",
                    "metadata": {"name": f"{name}-{block['metadata']['name']}"},
                    "spec": {
                        "node": name,
                        "cidr": cidr,
                        "state": "confirmed",
                        "type": "host",
                        "deleted": "false",
                    },
                }
                sep = "" if first else ","
                blocks.write(sep + json.dumps(block, separators=(",", ":")))
                affinities.write(sep + json.dumps(affinity, separators=(",", ":")))
                for handle, _ in chunk:
                    handles.write(
                        ("" if first and handle == chunk[0][0] and b == 0 else ",")
                        + json.dumps(
                            {
                                "apiVersion": "crd.projectcalico.org/v1",
                                "kind": "IPAMHandle",
                                "metadata": {"name": handle.lower(), "resourceVersion": "1"},
                                "spec": {"handleID": handle, "block": {cidr: 1}, "deleted": False},
                            },
                            separators=(",", ":"),
                        )
                    )
                first = False
                counts["blocks"] += 1
                counts["allocations"] += len(chunk)
                counts["handles"] += len(chunk)
        for f in (blocks, handles, affinities):
            f.write("]}")
    cluster = [
        {
            "apiVersion": "crd.projectcalico.org/v1",
            "kind": "IPPool",
            "metadata": {"name": "default-ipv4"},
            "spec": {"cidr": "10.16.0.0/12", "blockSize": 26, "nodeSelector": "all()", "vxlanMode": "Always"},
        },
        {
            "apiVersion": "crd.projectcalico.org/v1",
            "kind": "IPAMConfig",
            "metadata": {"name": "default"},
            "spec": {"strictAffinity": False, "autoAllocateBlocks": True, "maxBlocksPerHost": 0},
        },
    ]
    cluster += [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": f"node-{n:05}",
                "labels": {
                    "kubernetes.io/hostname": f"node-{n:05}",
                    "topology.kubernetes.io/zone": f"z{n % 3}",
                },
            },
            "status": {"allocatable": {"pods": "110"}},
        }
        for n in range(nodes)
    ]
    (folder / "cluster.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": cluster}))
    return counts


def child(code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=110)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        folder = Path(tmp)
        counts = generate(folder, args.nodes, args.pods, seed=7)
        sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
        files = [str(folder / n) for n in sorted(sizes)]
        best: dict[str, dict] = {}
        for _ in range(args.repeat):
            for label, code, argv in (
                ("json.load blocks", CHILD_LOAD, [str(folder / "blocks.json")]),
                ("json.load all", CHILD_LOAD, files),
                ("audit", CHILD_AUDIT, [str(folder)]),
            ):
                got = child(code, *argv)
                if label not in best or got["seconds"] < best[label]["seconds"]:
                    best[label] = got
        print(
            f"{args.nodes:,} nodes x {args.pods} pods: {counts['blocks']:,} blocks, "
            f"{counts['allocations']:,} allocations, {counts['handles']:,} handles; Python "
            f"{sys.version.split()[0]}, {os.cpu_count()} CPUs"
        )
        for name, size in sorted(sizes.items()):
            print(f"  {name:<16} {size / 1e6:8.1f} MB")
        print(f"\n{'step':<18} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12}")
        for label, got in best.items():
            print(f"{label:<18} {got['seconds']:8.2f} {got['cpu']:8.2f} {got['rss'] / 1e6:12.0f}")
        summary = best["audit"]["summary"]
        print(
            f"\naudit summary: {summary['blocks']:,} blocks, {summary['addressesInUse']:,} addresses in use, "
            f"handles {summary['handles']}, skipped {summary['skippedRules']}"
        )


if __name__ == "__main__":
    main()
