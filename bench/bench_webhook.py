"""Throughput and latency of the webhook's POST /validate beside GET /healthz, on one running server.

    python bench/bench_webhook.py [--pools 1000] [--nodes 5000] [--seconds 8] [--clients 2x4] [--rate 200]

Builds a state folder (one pool per rack of five nodes, plus an all() fallback pool), makes certificates,
starts `ippool-validator serve --state DIR` on 127.0.0.1, then measures in one run:

1. closed loop, as fast as the clients go: GET /healthz (the trivial endpoint: TLS, the front and Flask,
   no judging), then POST /validate with a mix of real AdmissionReviews (create a pool, create an
   overlapping pool (denied), update a pool, delete a pool, relabel a node, create a reservation);
   every request is a different object (names, CIDRs, labels and resourceVersions vary), made by the
   client just before it is sent, so no cache of identical requests can stand in for judging; then the
   same requests carried by a kind the webhook does not judge (`unjudged_body`): the floor of /validate.
   The three phases take `--rounds` turns (default 2) in alternating order (A B C, then C B A), so that a
   drift of the machine's speed during the run falls on every endpoint alike;
2. open loop at a fixed rate (default 200 requests/s) of the same mix, latency measured from when each
   request was due, so a slow answer also counts for the requests queued behind it;
3. the worst cases, one request at a time: an UPDATE of the all() pool (every node selected) and an
   operator Installation CREATE as large as `--max-body-bytes` allows.

Clients are separate processes (each its own GIL) with keep-alive connections and TCP_NODELAY set, as Go
clients do; without it each POST stalls about 40 ms on Nagle's algorithm and delayed ACKs. Each request's
head and body go in one write, as Go's transport sends a body held in memory (http.client would send
them as two TLS records, which the API server never does). With two or more
CPUs, the server (one worker: one core's worth of Python) is pinned to the first CPU and the clients to the
others (`--no-pin` to share them), as the API server is another machine in a cluster: sharing a core, the
clients' TLS and request building slow the server's own work by a half again. The ratio of /validate to
/healthz is the figure that carries over, both in requests/s and in server CPU per request (the server's
capacity); when the clients' core is the bottleneck for /healthz, the CPU ratio is the fair one. Prints a
table.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from reviews import admission

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from validator.certs import make_bundle, write_bundle  # noqa: E402


class Connection(http.client.HTTPSConnection):
    """Keep-alive HTTPS as the API server's client sends it: TCP_NODELAY set, and a request's head and body
    in one write. http.client sends the head and then the body (two TLS records, two reads for the server);
    Go's transport flushes the head separately only when the body is not in memory (net/http transfer.go,
    Go issue 22088), and the API server's webhook client sends the review from memory."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def request(self, method: str, url: str, body: Any = None, headers: Any = None, *,
                encode_chunked: bool = False) -> None:
        if self.sock is None:
            self.connect()
        held: list[bytes] = []
        self.send = held.append  # type: ignore[method-assign]  # http.client's writes, held
        try:
            super().request(method, url, body, headers or {}, encode_chunked=encode_chunked)
        finally:
            del self.send
        self.sock.sendall(b"".join(held))


def connect(port: int, ca: str) -> Connection:
    return Connection("127.0.0.1", port, context=ssl.create_default_context(cafile=ca), timeout=30)


def call(conn: Connection, path: str, body: bytes | None) -> int:
    if body is None:
        conn.request("GET", path)
    else:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    answer = conn.getresponse()
    answer.read()
    return answer.status


# the state and the requests


def write_state(folder: Path, pools: int, nodes: int) -> None:
    racks = pools - 1
    items = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i:05}", "labels": {
        "kubernetes.io/hostname": f"node-{i:05}", "rack": f"r{i % racks}", "zone": f"z{i % 3}",
        "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "m5.large"}}} for i in range(nodes)]
    (folder / "nodes.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    documents = [rack_pool(k) for k in range(racks)]
    fallback = {"cidr": "172.16.0.0/12", "nodeSelector": "all()"}
    documents.append({"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool",
                      "metadata": {"name": "fallback"}, "spec": fallback})
    (folder / "pools.yaml").write_text(yaml.safe_dump_all(documents))


def rack_pool(k: int, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool", "metadata": {"name": f"rack-{k}"},
            "spec": {"cidr": f"10.{k // 64}.{(k % 64) * 4}.0/22", "nodeSelector": f'rack == "r{k}"',
                     "natOutgoing": True, **spec}}


def node(i: int, rack: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i:05}", "labels": {
        "kubernetes.io/hostname": f"node-{i:05}", "rack": f"r{rack}", "zone": f"z{i % 3}",
        "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "m5.large"}}}


def request_body(n: int, pools: int, nodes: int) -> bytes:
    """The n-th request of the mix: every n gives a different object (name, CIDR, labels or resourceVersion
    differ), so no cache of identical requests can stand in for judging."""
    racks = pools - 1
    k = (n * 7919) % racks
    kind = n % 6
    version = {"resourceVersion": str(10_000 + n), "labels": {"bench/request": str(n)}}
    if kind == 0:  # a second pool for a rack, as large as its first, in free space: allowed
        cidr = f"10.{200 + (n >> 6) % 50}.{(n % 64) * 4}.0/22"
        return admission("CREATE", {**rack_pool(k), "metadata": {"name": f"extra-{n}"},
                                    "spec": {"cidr": cidr, "nodeSelector": f'rack == "r{k}"'}})
    if kind == 1:  # inside another rack's pool: denied (pool-overlap)
        cidr = f"10.{k // 64}.{(k % 64) * 4 + n % 4}.{(n // 4) % 4 * 64}/26"
        return admission("CREATE", {**rack_pool(k), "metadata": {"name": f"overlap-{n}"},
                                    "spec": {"cidr": cidr, "nodeSelector": f'rack == "r{k}"'}})
    if kind == 2:
        new, old = rack_pool(k, natOutgoing=False), rack_pool(k)
        new["metadata"] = {**new["metadata"], **version}
        return admission("UPDATE", new, old)
    if kind == 3:  # the fallback pool still serves the rack's nodes: allowed
        old = rack_pool(k)
        old["metadata"] = {**old["metadata"], **version}
        return admission("DELETE", None, old)
    if kind == 4:
        i = (n * 104729) % nodes
        new = node(i, (i + 1 + n) % racks)
        new["metadata"]["labels"]["bench/request"] = str(n)
        return admission("UPDATE", new, node(i, i % racks))
    gateway = f"10.{k // 64}.{(k % 64) * 4 + n % 4}.{n % 256}/32"
    return admission("CREATE", {"apiVersion": "projectcalico.org/v3", "kind": "IPReservation",
                                "metadata": {"name": f"res-{n}"}, "spec": {"reservedCIDRs": [gateway]}})


def unjudged_body(n: int, pools: int, nodes: int) -> bytes:
    """The n-th request of the mix carried by a kind the webhook does not judge (a ConfigMap CREATE holding
    the object): the same size and the same JSON reading, answered without judging. Its row is the floor
    of /validate: what TLS, the front, Flask, reading the review and answering cost."""
    request = json.loads(request_body(n, pools, nodes))["request"]
    obj = request["object"] or request["oldObject"]
    carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"],
               "data": {"object": json.dumps(obj)}}
    request.update(kind={"group": "", "version": "v1", "kind": "ConfigMap"}, operation="CREATE",
                   oldObject=None, object=carrier)
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                       "request": request}).encode()


def all_pool_change(n: int) -> bytes:
    """The worst pool write: the all() fallback, which selects every node, changed."""
    old = {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool", "metadata": {"name": "fallback"},
           "spec": {"cidr": "172.16.0.0/12", "nodeSelector": "all()"}}
    new = {**old, "metadata": {"name": "fallback", "resourceVersion": str(n)},
           "spec": {**old["spec"], "nodeSelector": f"all() && !has(bench-{n})"}}
    return admission("UPDATE", new, old)


def installation_at(size: int, n: int) -> bytes:
    """An operator Installation CREATE with as many ipPools as fit in `size` bytes."""
    def body(count: int) -> bytes:
        pools = [{"name": f"op-{n}-{i}", "nodeSelector": "all()", "encapsulation": "VXLAN",
                  "cidr": f"100.{64 + i // 4096 % 64}.{i // 16 % 256}.{i % 16 * 16}/28"}
                 for i in range(count)]
        return admission("CREATE", {"apiVersion": "operator.tigera.io/v1", "kind": "Installation",
                                    "metadata": {"name": "default"},
                                    "spec": {"calicoNetwork": {"ipPools": pools}}})
    low, high = 1, 64
    while len(body(high)) < size:
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if len(body(mid)) <= size else (low, mid)
    return body(low)


# load


def closed_loop(port: int, ca: str, path: str, mix: tuple[int, int, int, bool] | None, threads: int,
                seconds: float, start_at: float, cpus: set[int]) -> list[float]:
    """Each thread sends back to back until time is up; returns every latency (seconds). With `mix`
    (pools, nodes, first index, judged) each request is a new one of the mix, made just before it is sent
    (with judged False, as `unjudged_body` carries it)."""
    latencies: list[float] = []
    lock = threading.Lock()
    pin(cpus)

    def worker(offset: int) -> None:
        conn = connect(port, ca)
        mine: list[float] = []
        i = offset
        while time.time() < start_at:
            time.sleep(0.001)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            body = (request_body if mix[3] else unjudged_body)(mix[2] + i, mix[0], mix[1]) if mix else None
            i += threads
            began = time.perf_counter()
            status = call(conn, path, body)
            mine.append(time.perf_counter() - began)
            assert status == 200, status
        conn.close()
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return latencies


SERVER_CPUS: set[int] = set()  # empty: not pinned
CLIENT_CPUS: set[int] = set()


def pin(cpus: set[int]) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)


def run_closed(port: int, ca: str, path: str, mix: tuple[int, int, int, bool] | None, processes: int,
               threads: int, seconds: float) -> tuple[float, list[float]]:
    start_at = time.time() + 0.5
    with multiprocessing.get_context("spawn").Pool(processes) as workers:
        jobs = [(port, ca, path, mix and (mix[0], mix[1], mix[2] + p * 10_000_000, mix[3]), threads, seconds,
                 start_at, CLIENT_CPUS) for p in range(processes)]
        parts = workers.starmap(closed_loop, jobs)
    latencies = [x for part in parts for x in part]
    return len(latencies) / seconds, latencies


def run_open(port: int, ca: str, bodies: list[bytes], rate: float, seconds: float,
             threads: int = 16) -> tuple[float, list[float]]:
    """Requests due every 1/rate seconds, taken by idle threads; latency counted from when each was due."""
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    due = [start + n / rate for n in range(total)]
    latencies: list[float] = []
    lock = threading.Lock()
    cursor = iter(range(total))

    def worker() -> None:
        conn = connect(port, ca)
        while True:
            with lock:
                n = next(cursor, None)
            if n is None:
                break
            wait = due[n] - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            call(conn, "/validate", bodies[n % len(bodies)])
            finished = time.perf_counter()
            with lock:
                latencies.append(finished - due[n])
        conn.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return total / (time.perf_counter() - start), latencies


def server_cpu(master: int) -> float:
    """CPU seconds used so far by the server's worker processes (Linux /proc)."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        total = 0
        for pid in children:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
        return total / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def measured(master: int, run: Any) -> tuple[float, list[float], float]:
    """(requests/s, latencies, server CPU ms per request) of one phase."""
    before = server_cpu(master)
    rate, latencies = run()
    return rate, latencies, (server_cpu(master) - before) * 1000 / max(len(latencies), 1)


def closed_phases(master: int, port: int, ca: str, phases: list[tuple[str, str, Any]], processes: int,
                  threads: int, seconds: float, rounds: int) -> list[tuple[str, float, list[float], float]]:
    """The closed-loop phases, each `seconds` in all, in `rounds` turns whose order alternates (A B C, then
    C B A, ...), so that a drift of the machine's speed during the run falls on every endpoint alike; each
    turn sends objects of its own. (name, requests/s, latencies, server CPU ms per request) per phase."""
    share = seconds / rounds
    totals: dict[str, tuple[list[float], list[float]]] = {name: ([], [0.0]) for name, _, _ in phases}
    for turn in range(rounds):
        for name, path, mix in (phases if turn % 2 == 0 else phases[::-1]):
            if mix is not None:
                mix = (mix[0], mix[1], mix[2] + turn * 1_000_000_000, mix[3])
            before = server_cpu(master)
            _, latencies = run_closed(port, ca, path, mix, processes, threads, share)
            totals[name][0].extend(latencies)
            totals[name][1][0] += server_cpu(master) - before
    return [(name, len(latencies) / seconds, latencies, cpu[0] * 1000 / max(len(latencies), 1))
            for name, (latencies, cpu) in totals.items()]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def row(name: str, rate: float, latencies: list[float], cpu: float) -> str:
    return (f"| {name:<34} | {rate:>10,.0f} | {percentile(latencies, 50) * 1000:>8.2f} | "
            f"{percentile(latencies, 99) * 1000:>8.2f} | {cpu:>11.2f} ms | {len(latencies):>8,} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pools", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", default="2x4", help="client processes x threads for the closed loop")
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s of the open loop")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--threads", type=int, default=8, help="server threads per worker")
    parser.add_argument("--no-pin", action="store_true", help="let the server and the clients share all CPUs")
    parser.add_argument("--rounds", type=int, default=2,
                        help="turns the closed-loop phases take, in alternating order "
                        "(each phase --seconds in all)")
    parser.add_argument("--max-body-bytes", type=int, default=3 * 1024 * 1024,
                        help="the server's body limit, and the size of the worst-case Installation")
    options = parser.parse_args()
    processes, threads = (int(x) for x in options.clients.split("x"))
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2 and not options.no_pin:
        SERVER_CPUS.update(cpus[:1])
        CLIENT_CPUS.update(cpus[1:])

    with tempfile.TemporaryDirectory(prefix="bench-webhook-") as tmp:
        folder = Path(tmp)
        (folder / "state").mkdir()
        write_state(folder / "state", options.pools, options.nodes)
        write_bundle(make_bundle("ippool-validator", "bench", ["localhost"], ["127.0.0.1"]), folder / "certs")
        ca = str(folder / "certs" / "ca.crt")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        log = open(folder / "serve.log", "w")  # noqa: SIM115
        server = subprocess.Popen(
            [sys.executable, "-m", "validator.cli", "serve", "--tls-cert", str(folder / "certs" / "tls.crt"),
             "--tls-key", str(folder / "certs" / "tls.key"), "--host", "127.0.0.1", "--port", str(port),
             "--state", str(folder / "state"), "--workers", str(options.workers), "--threads",
             str(options.threads), "--max-body-bytes", str(options.max_body_bytes),
             "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT,
            cwd=REPO, start_new_session=True, preexec_fn=lambda: pin(SERVER_CPUS))
        pin(CLIENT_CPUS)  # the open loop and the worst cases run here
        try:
            began = time.perf_counter()
            while True:
                if server.poll() is not None or time.perf_counter() - began > 120:
                    raise SystemExit("the server did not start:\n" + (folder / "serve.log").read_text())
                try:
                    if call(connect(port, ca), "/readyz", None) == 200:
                        break
                except OSError:
                    time.sleep(0.2)
            conn = connect(port, ca)
            for n in range(60):  # warm up: first use of each kind of request builds its indexes
                call(conn, "/validate", request_body(90_000_000 + n, options.pools, options.nodes))
            conn.close()
            master = server.pid
            mix = (options.pools, options.nodes, 0, True)
            timed = [request_body(50_000_000 + n, options.pools, options.nodes)
                     for n in range(int(options.rate * options.seconds))]
            closed = [("GET /healthz, closed loop", "/healthz", None),
                      ("POST /validate, closed loop", "/validate", mix),
                      ("POST /validate, not judged", "/validate", (*mix[:3], False))]
            results = closed_phases(master, port, ca, closed, processes, threads, options.seconds,
                                    options.rounds)
            results.append((f"POST /validate, open loop {options.rate:.0f}/s", *measured(
                master, lambda: run_open(port, ca, timed, options.rate, options.seconds))))
            worst = worst_cases(port, ca, options.max_body_bytes)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
            log.close()

    print(f"\n{options.pools:,} pools, {options.nodes:,} nodes; server: gunicorn + asyncio TLS front, "
          f"{options.workers} worker(s) x {options.threads} threads, TLS; clients: {processes} processes x "
          f"{threads} keep-alive connections (closed loop); " + (
              f"server on CPU {sorted(SERVER_CPUS)}, clients on CPUs {sorted(CLIENT_CPUS)}\n" if SERVER_CPUS
              else f"{os.cpu_count()} CPUs shared by server and clients\n"))
    print("| endpoint                           | requests/s | p50 (ms) | p99 (ms) | server CPU/req "
          "| requests |")
    print("|------------------------------------|-----------:|---------:|---------:|---------------:"
          "|---------:|")
    for name, rate, latencies, cpu in results:
        print(row(name, rate, latencies, cpu))
    healthz, validate, floor = results[0], results[1], results[2]
    print(f"\n/validate throughput = {validate[1] / healthz[1]:.0%} of /healthz; server CPU per request "
          f"{validate[3]:.2f} ms vs {healthz[3]:.2f} ms (ratio {healthz[3] / validate[3]:.0%}); "
          f"open-loop median {statistics.median(results[3][2]) * 1000:.2f} ms")
    print(f"not judged (the floor of /validate): {floor[1] / healthz[1]:.0%} of /healthz, {floor[3]:.2f} ms "
          f"server CPU per request; judging adds {validate[3] - floor[3]:.2f} ms")
    print("\n| worst case (one request at a time) | body | median (ms) | max (ms) | answer |")
    print("|---|---:|---:|---:|---|")
    for name, size, latencies, answer in worst:
        print(f"| {name} | {size:,} B | {statistics.median(latencies) * 1000:,.1f} | "
              f"{max(latencies) * 1000:,.1f} | {answer} |")


def worst_cases(port: int, ca: str, max_body: int) -> list[tuple[str, int, list[float], str]]:
    """The all() pool changed with every node selected, and an Installation at the body limit: each a few
    times, on one connection, with a timeout as long as the API server's longest (30 s)."""
    cases = [("UPDATE of the all() pool", [all_pool_change(n) for n in range(5)]),
             ("Installation CREATE at the body limit", [installation_at(max_body, n) for n in range(2)])]
    results = []
    for name, bodies in cases:
        latencies, answer = [], ""
        for body in bodies:
            conn = connect(port, ca)
            began = time.perf_counter()
            try:
                answer = str(call(conn, "/validate", body))
            except (OSError, http.client.HTTPException) as err:
                answer = f"no answer in 30 s ({type(err).__name__})"
            latencies.append(time.perf_counter() - began)
            conn.close()
            if answer.startswith("no answer"):
                break
        results.append((name, len(bodies[0]), latencies, answer))
    return results


if __name__ == "__main__":
    main()
