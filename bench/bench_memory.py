"""Resident memory of the webhook over many varied admission requests, through the real Flask app.

    python bench/bench_memory.py [--requests 100000] [--every 10000] [--pools 200] [--nodes 1000]
                                 [--repo PATH]

One process builds a state (one pool per rack of five nodes plus an all() fallback pool), creates the
webhook's app over it with `create_app`, and posts AdmissionReviews through the app's WSGI interface (no
sockets: the process measured is the one that judges). Every request is a different object: new names,
new CIDRs, new label values, a mix of pool CREATE (allowed and denied), UPDATE and DELETE, node
relabels and reservations. RSS (VmRSS from /proc) is printed before the first request and every
`--every` requests. A webhook whose per-request memos are bounded stays flat after warm-up.

`--repo PATH` imports `validator` from another checkout (say /work/main) to measure it the same way.
The machine may be shared with other work; memory figures do not depend on that, times do.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path
from typing import Any

from reviews import admission, memory_state

V1 = "crd.projectcalico.org/v1"


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def node(i: int, rack: int, extra: str = "") -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": f"node-{i:05}", "rack": f"r{rack}", "zone": f"z{i % 3}"}
    if extra:
        labels["build"] = extra
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i:05}", "labels": labels}}


def ippool(name: str, cidr: str, selector: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": V1, "kind": "IPPool", "metadata": {"name": name},
            "spec": {"cidr": cidr, "nodeSelector": selector, **spec}}


def rack_pool(k: int, **spec: Any) -> dict[str, Any]:
    return ippool(f"rack-{k}", f"10.{k // 64}.{(k % 64) * 4}.0/22", f'rack == "r{k}"', **spec)


def varied_request(n: int, rng: random.Random, racks: int, nodes: int) -> bytes:
    """Request `n`: each one a different object (its name, CIDR or labels carry `n`)."""
    k = rng.randrange(racks)
    kind = n % 6
    third, fourth = (n >> 8) % 256, n % 256
    if kind == 0:
        return admission("CREATE", ippool(f"extra-{n}", f"10.{200 + n % 50}.{third}.{fourth}/32",
                                          f'rack == "r{k}" || zone == "z{n % 7}"'))
    if kind == 1:
        return admission("CREATE", ippool(f"overlap-{n}", f"10.{k // 64}.{(k % 64) * 4 + 1}.{fourth}/32",
                                          f'rack == "r{k}"'))
    if kind == 2:
        return admission("UPDATE", rack_pool(k, natOutgoing=bool(n % 2), vxlanMode="Always"), rack_pool(k))
    if kind == 3:
        return admission("DELETE", None, rack_pool(k, natOutgoing=bool(n % 2)))
    if kind == 4:
        i = rng.randrange(nodes)
        return admission("UPDATE", node(i, (i + 1) % racks, extra=f"b{n}"), node(i, i % racks))
    return admission("CREATE", {"apiVersion": "projectcalico.org/v3", "kind": "IPReservation",
                                "metadata": {"name": f"res-{n}"},
                                "spec": {"reservedCIDRs": [f"10.{k // 64}.{(k % 64) * 4}.{fourth}/32"]}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--pools", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--repo", default=str(Path(__file__).resolve().parents[1]))
    args = parser.parse_args()
    sys.path.insert(0, args.repo)
    from validator.config import Config
    from validator.webhook.app import create_app

    racks = args.pools - 1
    objects = [*(rack_pool(k) for k in range(racks)), ippool("fallback", "172.16.0.0/12", "all()"),
               *(node(i, i % racks) for i in range(args.nodes))]
    app = create_app(memory_state(objects), Config())
    client = app.test_client()
    rng = random.Random(1)
    print(f"validator from {sys.modules['validator'].__file__}")
    print(f"state: {args.pools} pools, {args.nodes} nodes")
    print(f"{'requests':>9} {'RSS MiB':>8} {'s':>7}")
    print(f"{0:>9} {rss_mib():>8.1f} {0.0:>7.1f}")
    started = time.perf_counter()
    for n in range(1, args.requests + 1):
        reply = client.post("/validate", data=varied_request(n, rng, racks, args.nodes),
                            content_type="application/json")
        if reply.status_code != 200:
            raise SystemExit(f"request {n}: HTTP {reply.status_code}: {reply.get_data(as_text=True)}")
        if n % args.every == 0:
            gc.collect()
            print(f"{n:>9} {rss_mib():>8.1f} {time.perf_counter() - started:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
