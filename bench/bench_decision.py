"""The worst single admission requests, timed in-process through the real Flask app, beside a trivial one.

    python bench/bench_decision.py [--pools 1000] [--nodes 5000] [--body-bytes 3145728] [--repeat 3]

The state is one pool per rack of five nodes plus an all() fallback pool (as bench_webhook.py builds it).
Each case is answered `--repeat` times, each time a different object (new names, new CIDRs), so no cache
of identical inputs stands in for the work; the table shows the slowest answer. Cases:

- baseline: CREATE of a small, good topology pool (what most requests are);
- all() pool changed: UPDATE of the fallback pool that selects every node;
- all() pool deleted and disabled: the same pool dropped, or turned off;
- Installation at the body limit: an operator Installation whose ipPools fill `--body-bytes`, every
  entry an all() pool (N entries in one request: the case that was O(N^2));
- Installation, all overlapping: the same, every entry inside one /8 (every pair overlaps);
- a node relabelled;
- Installation of `--relational` all() pools with `schema-invalid` off: every relational rule judges them
  (the CRD allows 25 ipPools, so the API server never sends more; entries past 25 are not built into pools,
  so the body-limit cases above cost what 25 entries cost, plus reading and the schema check).

Judging runs on one core; the machine may be shared with other work, so the baseline of the same run is
the figure to compare against. Prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reviews import admission as review
from reviews import memory_state

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from validator.config import Config  # noqa: E402
from validator.webhook.app import Settings, create_app  # noqa: E402

V1 = "crd.projectcalico.org/v1"


def admission(operation: str, obj: dict[str, Any] | None, old: dict[str, Any] | None = None) -> bytes:
    return review(operation, obj, old, compact=True)  # compact: the body limit counts bytes


def node(i: int, rack: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i:05}", "labels": {
        "kubernetes.io/hostname": f"node-{i:05}", "rack": f"r{rack}", "zone": f"z{i % 3}"}},
        "status": {"allocatable": {"pods": "110"}}}


def ippool(name: str, cidr: str, selector: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": V1, "kind": "IPPool", "metadata": {"name": name},
            "spec": {"cidr": cidr, "nodeSelector": selector, **spec}}


def rack_pool(k: int) -> dict[str, Any]:
    return ippool(f"rack-{k}", f"10.{k // 64}.{(k % 64) * 4}.0/22", f'rack == "r{k}"')


def fallback(**spec: Any) -> dict[str, Any]:
    return ippool("fallback", "172.16.0.0/12", "all()", **spec)


def state_objects(pools: int, nodes: int) -> list[dict[str, Any]]:
    racks = pools - 1
    return [*(rack_pool(k) for k in range(racks)), fallback(), *(node(i, i % racks) for i in range(nodes))]


def installation(limit: int, run: int, overlapping: bool) -> bytes:
    """An Installation whose ipPools fill `limit` bytes; each entry's CIDR differs by `run`."""
    def entry(i: int) -> dict[str, Any]:
        cidr = f"10.{(i >> 8) & 255}.{i & 255}.{run * 8}/29" if overlapping \
            else f"{100 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}.{run * 8}/29"
        return {"name": f"p{run}-{i}", "cidr": cidr, "nodeSelector": "all()", "blockSize": 30}

    size = len(admission("CREATE", _installation([entry(0)])))
    per = len(json.dumps(entry(99999), separators=(",", ":"))) + 1
    count = max(1, (limit - size - 64) // per)
    return admission("CREATE", _installation([entry(i) for i in range(count)]))


def _installation(pools: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": {"name": "default"},
            "spec": {"calicoNetwork": {"ipPools": pools}}}


def cases(pools: int, nodes: int, limit: int) -> dict[str, Callable[[int], bytes]]:
    racks = pools - 1
    return {
        "baseline: small topology pool": lambda r: admission(
            "CREATE", ippool(f"extra-{r}", f"10.200.{r}.0/24", f'rack == "r{r % racks}"')),
        "all() pool changed (UPDATE)": lambda r: admission(
            "UPDATE", fallback(natOutgoing=bool(r % 2), ipipMode=["Never", "Always", "CrossSubnet"][r % 3]),
            fallback()),
        "all() pool disabled": lambda r: admission("UPDATE", fallback(disabled=True, vxlanMode="Never"
                                                                      if r % 2 else "Always"), fallback()),
        "all() pool deleted": lambda r: admission("DELETE", None, fallback(natOutgoing=bool(r % 2))),
        "node relabelled": lambda r: admission("UPDATE", node(r, (r + 1) % racks), node(r, r % racks)),
        "Installation at the body limit": lambda r: installation(limit, r, overlapping=False),
        "Installation, every entry in a state pool": lambda r: installation(limit, r, overlapping=True),
    }


def relational_case(count: int) -> Callable[[int], bytes]:
    def make(r: int) -> bytes:
        pools = [{"name": f"p{r}-{i}", "cidr": f"{100 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}.{r * 8}/29",
                  "nodeSelector": "all()", "blockSize": 30} for i in range(count)]
        return admission("CREATE", _installation(pools))
    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--body-bytes", type=int, default=3 * 1024 * 1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--relational", type=int, default=25)
    parser.add_argument("--only", default="", help="run only the cases whose name contains this")
    args = parser.parse_args()
    started = time.perf_counter()
    state = memory_state(state_objects(args.pools, args.nodes))
    print(f"state: {args.pools} pools, {args.nodes} nodes, built in {time.perf_counter() - started:.2f} s")
    settings = Settings(max_body_bytes=args.body_bytes)
    client = create_app(state, Config(), settings).test_client()
    schema_off = create_app(state, Config(rule_levels={"schema-invalid": "off"}), settings).test_client()
    print(f"{'case':48} {'body':>10} {'slowest':>10} {'answer':>8}")
    runs = [(name, make, client) for name, make in cases(args.pools, args.nodes, args.body_bytes).items()]
    runs.append((f"Installation of {args.relational:,} pools, schema off", relational_case(args.relational),
                 schema_off))
    for name, make, client in runs:
        if args.only not in name:
            continue
        worst, body, outcome = 0.0, b"", ""
        for r in range(args.repeat):
            body = make(r + 1)
            began = time.perf_counter()
            reply = client.post("/validate", data=body, content_type="application/json")
            worst = max(worst, time.perf_counter() - began)
            answer = reply.get_json()
            outcome = str(reply.status_code) if reply.status_code != 200 else \
                ("allow" if answer["response"]["allowed"] else "deny")
        print(f"{name:48} {len(body) / 1024:>8.0f}Ki {worst * 1000:>8.1f}ms {outcome:>8}")


if __name__ == "__main__":
    main()
