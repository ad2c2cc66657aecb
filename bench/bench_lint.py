"""How fast is `ippool-validator lint` next to just parsing the same YAML? Run by hand; prints a table.

    python bench/bench_lint.py                      # 10,000 pools and 10,000 nodes in 100 files
    python bench/bench_lint.py --pools 2000 --nodes 2000 --files 20 --profile
    python bench/bench_lint.py --shape light --scales 1000,10000,100000 --repeat 1   # growth, one row a size

The data is generated (seeded, so every run lints the same bytes): per-rack IPv4 /24 and IPv6 /64 pools
with `rack == "rN"` selectors, an IPv4 and an IPv6 fallback pool with `all()`, and nodes as
`kubectl get nodes -o yaml` prints them (labels, annotations, spec, status with capacity, allocatable,
addresses, conditions, images and nodeInfo), two nodes per rack; with `--shape light`, as repositories keep
them instead (about 15 labels, one annotation, no status), where parsing no longer dominates. Three
deliberate mistakes give the rules something to report: two rack pools that overlap, a selector with an
unquoted value, a CIDR with host bits.

Three figures, each the best of --repeat rounds (time.perf_counter); a round runs all three one after the
other, so that a busy machine slows them alike:
  parse      read every file and yaml.load_all it with PyYAML's C loader (CSafeLoader): the floor
  lint       load_paths + engine.run + render, in this process (what the CLI does after start-up)
  lint CLI   `python -m validator.cli lint DIR` in a subprocess, interpreter start-up included
Then where lint's time goes: reading (load_paths) and each rule's check, slowest first.

lint reads with Python's cyclic garbage collector paused (sources/files.py `collector_paused`) and builds
only documents of kinds it reads, with its own builder (sources/construct.py), which is why it can beat
the plain parse; the table also shows the parse with the collector paused.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from validator.analysis import ClusterView  # noqa: E402
from validator.config import Config  # noqa: E402
from validator.engine import enabled_rules, run  # noqa: E402
from validator.model import Cluster  # noqa: E402
from validator.report import Report, render  # noqa: E402
from validator.rules.base import Context  # noqa: E402
from validator.sources.files import collector_paused, load_paths  # noqa: E402

KUBELET_VERSION = "v1.30.4"
CONDITIONS = (
    ("NetworkUnavailable", "False", "CalicoIsUp", "Calico is running on this node"),
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)
IMAGES = [
    ("quay.io/calico/node@sha256:{h}", "quay.io/calico/node:v3.28.1", 118_457_342),
    ("quay.io/calico/cni@sha256:{h}", "quay.io/calico/cni:v3.28.1", 94_533_187),
    ("registry.k8s.io/kube-proxy@sha256:{h}", "registry.k8s.io/kube-proxy:v1.30.4", 29_045_921),
    ("registry.k8s.io/pause@sha256:{h}", "registry.k8s.io/pause:3.9", 321_520),
]


# ---------------------------------------------------------------- data

def rack_pool(rack: int, family: int) -> dict:
    if family == 4:
        cidr = f"10.{rack // 256}.{rack % 256}.0/24"
        spec = {"cidr": cidr, "blockSize": 26, "ipipMode": "Never", "vxlanMode": "CrossSubnet",
                "natOutgoing": True, "nodeSelector": f'rack == "r{rack}"'}
    else:
        cidr = f"fd00:10:{rack // 65536:x}:{rack % 65536:x}::/64"
        spec = {"cidr": cidr, "blockSize": 122, "vxlanMode": "Never", "natOutgoing": False,
                "nodeSelector": f'rack == "r{rack}"'}
    return {"apiVersion": "projectcalico.org/v3", "kind": "IPPool",
            "metadata": {"name": f"rack-r{rack}-ipv{family}", "labels": {"row": f"row-{rack // 40}"}},
            "spec": spec}


def fallback_pools() -> list[dict]:
    return [
        {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "default-ipv4-ippool"},
         "spec": {"cidr": "100.64.0.0/10", "blockSize": 26, "vxlanMode": "CrossSubnet", "natOutgoing": True,
                  "nodeSelector": "all()"}},
        {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "default-ipv6-ippool"},
         "spec": {"cidr": "fd00:20::/48", "blockSize": 122, "natOutgoing": False, "nodeSelector": "all()"}},
    ]


def pools(count: int) -> list[dict]:
    """`count` pools: the two fallbacks, then IPv4 and IPv6 rack pools, with three deliberate mistakes."""
    found = fallback_pools()
    rack = 0
    while len(found) < count:
        for family in (4, 6):
            if len(found) < count:
                found.append(rack_pool(rack, family))
        rack += 1
    mistakes = {"rack-r10-ipv4": ("cidr", "10.0.11.0/24"),  # overlaps rack r11's pool
                "rack-r12-ipv4": ("nodeSelector", "rack == r12"),  # unquoted value
                "rack-r13-ipv4": ("cidr", "10.0.13.1/24")}  # host bits set
    for pool in found:
        change = mistakes.get(pool["metadata"]["name"])
        if change:
            pool["spec"][change[0]] = change[1]
    return found


def light_node(index: int) -> dict:
    """A node as a repository keeps it: about 15 labels, a few annotations, no status."""
    name = f"worker-{index:06d}"
    rack = index // 2
    labels = {
        "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type":
        "m6i.4xlarge", "rack": f"r{rack}", "row": f"row-{rack // 40}", "topology.kubernetes.io/region":
        "eu-west-1", "topology.kubernetes.io/zone": f"eu-west-1{'abc'[rack % 3]}", "node-role/worker": "",
        "example.com/team": f"team-{index % 7}", "example.com/cost-centre": f"cc-{index % 13}",
        "example.com/pool": "general", "example.com/generation": str(index % 4),
    }
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels,
                         "annotations": {"projectcalico.org/IPv4Address": f"172.16.{index // 256 % 256}."
                                                                          f"{index % 256}/16"}},
            "spec": {"providerID": f"aws:///eu-west-1a/i-{index:017x}"}}


def node(index: int, rng: random.Random) -> dict:
    name = f"worker-{index:05d}"
    rack = index // 2
    ip = f"172.{16 + (index + 1) // 65536}.{(index + 1) // 256 % 256}.{(index + 1) % 256}"
    digest = f"{rng.getrandbits(256):064x}"
    tunnel = f"10.{rack // 256 % 256}.{rack % 256}.{64 * (index % 2) + 1}"
    now = "2026-11-20T08:14:03Z"
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "annotations": {
                "csi.volume.kubernetes.io/nodeid": f'{{"ebs.csi.aws.com":"i-{digest[:17]}"}}',
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "projectcalico.org/IPv4Address": f"{ip}/16",
                "projectcalico.org/IPv4VXLANTunnelAddr": tunnel,
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
            "creationTimestamp": "2026-10-01T09:00:00Z",
            "labels": {
                "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                "node.kubernetes.io/instance-type": "m6i.4xlarge", "rack": f"r{rack}",
                "topology.kubernetes.io/zone": f"eu-west-1{'abc'[rack % 3]}",
            },
            "name": name, "resourceVersion": str(4_000_000 + index), "uid": f"{digest[:8]}-{digest[8:12]}-"
            f"{digest[12:16]}-{digest[16:20]}-{digest[20:32]}",
        },
        "spec": {"podCIDR": f"10.{128 + index // 256 % 128}.{index % 256}.0/24",
                 "providerID": f"aws:///eu-west-1a/i-{digest[:17]}"},
        "status": {
            "addresses": [{"address": ip, "type": "InternalIP"},
                          {"address": f"ip-{ip.replace('.', '-')}.eu-west-1.compute.internal",
                           "type": "Hostname"}],
            "allocatable": {"cpu": "15890m", "ephemeral-storage": "95491281146", "hugepages-1Gi": "0",
                            "hugepages-2Mi": "0", "memory": "63112312Ki", "pods": "110"},
            "capacity": {"cpu": "16", "ephemeral-storage": "104845292Ki", "hugepages-1Gi": "0",
                         "hugepages-2Mi": "0", "memory": "64262264Ki", "pods": "110"},
            "conditions": [
                {"lastHeartbeatTime": now, "lastTransitionTime": now, "message": message, "reason": reason,
                 "status": status, "type": kind}
                for kind, status, reason, message in CONDITIONS],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": [{"names": [by_digest.format(h=digest), tag], "sizeBytes": size}
                       for by_digest, tag, size in IMAGES],
            "nodeInfo": {"architecture": "amd64", "bootID": digest[:36], "containerRuntimeVersion":
                         "containerd://1.7.20", "kernelVersion": "6.1.102-111.182.amzn2023.x86_64",
                         "kubeProxyVersion": KUBELET_VERSION, "kubeletVersion": KUBELET_VERSION,
                         "machineID": digest[:32], "operatingSystem": "linux",
                         "osImage": "Amazon Linux 2023.5.20240819", "systemUUID": digest[32:68]},
        },
    }


def split(items: list, parts: int) -> list[list]:
    size = -(-len(items) // parts) if parts else len(items)
    return [items[i:i + size] for i in range(0, len(items), size)] if items else []


def generate(folder: Path, pool_count: int, node_count: int, file_count: int, heavy: bool = True) -> None:
    """Half the files hold pools (several documents each), half are `kubectl get nodes -o yaml` Lists of
    heavy nodes (status and all) or light ones (labels only)."""
    rng = random.Random(20261123)
    (folder / "pools").mkdir(parents=True)
    (folder / "nodes").mkdir(parents=True)
    pool_files = max(1, file_count // 2) if pool_count else 0
    node_files = max(1, file_count - pool_files) if node_count else 0
    for i, chunk in enumerate(split(pools(pool_count), pool_files)):
        text = yaml.safe_dump_all(chunk, sort_keys=False, width=200)
        (folder / "pools" / f"pools-{i:03d}.yaml").write_text(text, encoding="utf-8")
    nodes = [node(i, rng) if heavy else light_node(i) for i in range(node_count)]
    for i, chunk in enumerate(split(nodes, node_files)):
        document = {"apiVersion": "v1", "kind": "List", "items": chunk, "metadata": {"resourceVersion": ""}}
        text = yaml.safe_dump(document, sort_keys=True, width=200)
        (folder / "nodes" / f"nodes-{i:03d}.yaml").write_text(text, encoding="utf-8")


# ---------------------------------------------------------------- measurements

def yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml"))


def parse_only(files: list[Path], paused: bool = False) -> int:
    """yaml.load_all over every file; `paused`: with the garbage collector off, as lint reads files."""
    documents = 0
    with collector_paused() if paused else contextlib.nullcontext():
        for path in files:
            documents += len(list(yaml.load_all(path.read_bytes().decode("utf-8"), Loader=yaml.CSafeLoader)))
    return documents


def lint_in_process(folder: Path) -> tuple[int, int, int]:
    cluster = load_paths([str(folder)])
    result = run(cluster, Config())
    report = Report(result.findings, cluster.files, len(cluster.pools), len(cluster.nodes),
                    cluster.nodes_known, result.skipped_rules, result.ignored)
    render(report, "text")
    return len(result.findings), len(cluster.pools), len(cluster.nodes)


def lint_cli(folder: Path) -> int:
    done = subprocess.run([sys.executable, "-m", "validator.cli", "lint", "--format", "json", str(folder)],
                          cwd=folder, capture_output=True, check=False,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    if done.returncode not in (0, 1):
        raise SystemExit(f"lint failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return done.returncode


def timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = action()
    return time.perf_counter() - start, value


def best_of_rounds(repeat: int, actions: dict[str, Callable[[], object]]) -> dict[str, tuple[float, object]]:
    """Each action once per round, rounds repeated; the best time of each, with its last value."""
    best: dict[str, tuple[float, object]] = {}
    for _ in range(repeat):
        for name, action in actions.items():
            seconds, value = timed(action)
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, value)
    return best


def where_time_goes(folder: Path) -> list[tuple[str, float]]:
    """Reading, then every enabled rule's check on its own (shared indexes count for the first rule
    that builds them)."""
    read_s, cluster = timed(lambda: load_paths([str(folder)]))
    assert isinstance(cluster, Cluster)
    view, config = ClusterView(cluster), Config()
    spent = [("read (load_paths)", read_s)]
    for rule in enabled_rules(config):
        if rule.needs_nodes and not cluster.nodes_known:
            continue
        ctx = Context(cluster, view, config, None, rule)
        spent.append((f"rule {rule.id}", timed(lambda ctx=ctx, rule=rule: list(rule.check(ctx)))[0]))
    return spent


def profile(folder: Path, top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    lint_in_process(folder)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    value_width = max(len(v) for _, v in rows)
    line = f"+-{'-' * width}-+-{'-' * value_width}-+"
    body = [f"| {k:<{width}} | {v:>{value_width}} |" for k, v in rows]
    return "\n".join([line, *body, line])


def scale_row(count: int, file_count: int, heavy: bool, repeat: int) -> tuple[str, ...]:
    with tempfile.TemporaryDirectory(prefix="ippool-bench-") as scratch:
        folder = Path(scratch) / "repo"
        generate(folder, count, count, file_count, heavy)
        files = yaml_files(folder)
        size = sum(p.stat().st_size for p in files)
        best = best_of_rounds(repeat, {"parse": lambda: parse_only(files),
                                       "lint": lambda: lint_in_process(folder)})
        spent = where_time_goes(folder)
    parse_s, lint_s = best["parse"][0], best["lint"][0]
    rules_s = sum(t for _, t in spent[1:])
    return (f"{count:,}", f"{len(files)}", f"{size / 1e6:.1f}", f"{parse_s:.2f}", f"{lint_s:.2f}",
            f"{lint_s / parse_s:.2f}x", f"{spent[0][1]:.2f}", f"{rules_s:.2f}",
            f"{lint_s / (2 * count) * 1e6:.1f}")


def scaling(counts: list[int], file_count: int, heavy: bool, repeat: int) -> None:
    """One row per size: the plain parse and lint of the same files, each the best of `repeat`, in one run
    (so that a shared machine slows both alike), and lint's reading and rules apart."""
    rows = [("pools = nodes", "files", "MB", "parse (s)", "lint (s)", "lint/parse", "read (s)", "rules (s)",
             "lint µs/object")]
    for count in counts:
        rows.append(scale_row(count, file_count, heavy, repeat))
        print(" | ".join(rows[-1]), flush=True)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("| " + " | ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) + " |")
    print(f"{'heavy' if heavy else 'light'} nodes; best of {repeat}; Python {sys.version.split()[0]}, "
          f"PyYAML {yaml.__version__}, {os.cpu_count()} CPUs (shared machine)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pools", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=8, help="how many of the slowest rules to show")
    parser.add_argument("--out", type=Path, default=None, help="generate into this (new) folder and keep it")
    parser.add_argument("--profile", type=int, nargs="?", const=30, default=0, metavar="N",
                        help="also print the N hottest functions of one in-process lint (cProfile)")
    parser.add_argument("--shape", choices=["heavy", "light"], default="heavy",
                        help="nodes as full `kubectl get nodes -o yaml` dumps (heavy) or as repositories "
                             "keep them, about 15 labels and no status (light)")
    parser.add_argument("--scales", default="", metavar="N,N,...",
                        help="instead: parse and lint at each of these pool (= node) counts, one row each")
    args = parser.parse_args()
    if args.scales:
        scaling([int(n) for n in args.scales.split(",")], args.files, args.shape == "heavy", args.repeat)
        return

    with tempfile.TemporaryDirectory(prefix="ippool-bench-") as scratch:
        folder = args.out or Path(scratch) / "repo"
        generate(folder, args.pools, args.nodes, args.files, args.shape == "heavy")
        files = yaml_files(folder)
        size = sum(p.stat().st_size for p in files)

        best = best_of_rounds(args.repeat, {
            "parse": lambda: parse_only(files),
            "parse-paused": lambda: parse_only(files, paused=True),
            "lint": lambda: lint_in_process(folder),
            "cli": lambda: lint_cli(folder),
            "start": lambda: subprocess.run([sys.executable, "-c", "import validator.cli"], check=True,
                                            env=dict(os.environ, PYTHONPATH=str(REPO))),
        })
        parse_s, documents = best["parse"]
        lint_s, (findings, pools_read, nodes_read) = best["lint"]  # type: ignore[misc]
        cli_s, start_s = best["cli"][0], best["start"][0]

        print(table([
            ("files", f"{len(files):,}"),
            ("YAML documents", f"{documents:,}"),
            ("objects (pools + nodes)", f"{pools_read:,} + {nodes_read:,}"),
            ("bytes", f"{size:,}"),
            ("parse only, CSafeLoader (s)", f"{parse_s:.2f}"),
            ("  the same, garbage collector off (s)", f"{best['parse-paused'][0]:.2f}"),
            ("lint in-process (s)", f"{lint_s:.2f}"),
            ("lint CLI, subprocess (s)", f"{cli_s:.2f}"),
            ("  of which start-up + imports (s)", f"{start_s:.2f}"),
            ("ratio lint / parse", f"{lint_s / parse_s:.2f}x"),
            ("ratio lint CLI / parse", f"{cli_s / parse_s:.2f}x"),
            ("findings", f"{findings:,}"),
        ]))
        print(f"best of {args.repeat} rounds; Python {sys.version.split()[0]}, PyYAML {yaml.__version__}"
              f" (C loader: {getattr(yaml, '__with_libyaml__', False)}), {os.cpu_count()} CPUs")
        spent = where_time_goes(folder)
        shown = sorted(spent[1:], key=lambda item: -item[1])[:args.top]
        print(table([(name, f"{seconds:.2f}") for name, seconds in [spent[0], *shown]]))
        if args.profile:
            profile(folder, args.profile)


if __name__ == "__main__":
    main()
