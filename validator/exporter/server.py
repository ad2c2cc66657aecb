"""`ippool-validator exporter`: the audit loop and a small HTTP server for /metrics, /healthz and /readyz.

One thread audits every interval and publishes an immutable Snapshot; the text exposition is rendered
once per pass (prometheus_client's generate_latest over a registry holding only our Collector), so a
scrape copies bytes and never waits for an audit, and ten scrapers cost what one does. A failed pass logs
one line, counts in `ippool_validator_audit_failures_total` and keeps the last good series; /readyz turns
ready after the first complete audit and stays so, while `..._audit_last_success_timestamp_seconds`
shows staleness (the chart's IPPoolValidatorAuditStale alert).

The HTTP server is a thread per connection, bounded: at most MAX_CONNECTIONS at once (more are closed at
once), request line and headers within HEADER_SECONDS in all (a watchdog closes a slow sender), each socket
read or write within IO_SECONDS, one request per connection. A stalled or idle scraper holds its own
thread only.
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from ..audit.core import audit
from ..audit.model import AuditPolicy, AuditState
from .series import Snapshot, process_families, snapshot

log = logging.getLogger("ippool_validator.exporter")
MAX_CONNECTIONS = 32
HEADER_SECONDS = 5.0
IO_SECONDS = 10.0


@dataclass(frozen=True)
class Published:
    """What a scrape serves: the exposition of one moment, plain and gzipped."""

    text: bytes
    gzipped: bytes
    ready: bool


class Exporter:
    """Audits on demand (`run_once`) or every interval (`loop`), and holds the latest series."""

    def __init__(self, read: Callable[[], AuditState], policy: AuditPolicy) -> None:
        self.read, self.policy = read, policy
        self.last: Snapshot | None = None
        self.failures = 0
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)  # type: ignore[arg-type]  # a Collector: has collect()
        self.published = self._render()
        self.stop = threading.Event()

    def collect(self) -> Iterator[Metric]:
        last = self.last  # one reference read: the series of one audit, never a mix
        if last is not None:
            yield from last.families
        yield from process_families(last, self.failures)

    def run_once(self) -> bool:
        """One pass. The cycle collector is paused while it reads and judges (a 5,000-node state is
        millions of objects, which it would scan again and again: 30 % of the audit's time) and run once
        after it."""
        started = time.monotonic()
        gc.disable()
        try:
            state = self.read()
            result = audit(state, datetime.now(timezone.utc), self.policy)
            off = [rule for rule, level in self.policy.rule_levels.items() if level == "off"]
            self.last = snapshot(state, result, time.time(), time.monotonic() - started, off)
            ok = True
        except Exception as err:  # noqa: BLE001 - any failure of a pass keeps the last good series
            self.failures += 1
            log.warning("audit failed (%s), keeping the last good series: %s", type(err).__name__,
                        " ".join(str(err).split())[:500])
            ok = False
        finally:
            gc.enable()
        self.published = self._render()
        gc.collect()
        return ok

    def loop(self, interval: float) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            self.run_once()
            self.stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def _render(self) -> Published:
        text = generate_latest(self.registry)
        return Published(text, gzip.compress(text, compresslevel=5), self.last is not None)


def _handler(exporter: Exporter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = IO_SECONDS  # every socket read and write (StreamRequestHandler.setup)
        server_version = "ippool-validator-exporter"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - scrapes are not logged
            pass

        def handle(self) -> None:
            watchdog = threading.Timer(HEADER_SECONDS, self._cut)
            watchdog.daemon = True
            self._watchdog = watchdog
            watchdog.start()
            try:
                super().handle()
            finally:
                watchdog.cancel()

        def _cut(self) -> None:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def do_GET(self) -> None:  # noqa: N802
            self._watchdog.cancel()  # the request line and headers are in
            path = self.path.split("?", 1)[0]
            published = exporter.published
            if path == "/metrics":
                gzipped = "gzip" in self.headers.get("Accept-Encoding", "")
                body = published.gzipped if gzipped else published.text
                self._send(200, body, CONTENT_TYPE_LATEST, {"Content-Encoding": "gzip"} if gzipped else {})
            elif path == "/healthz":
                self._send(200, b"ok\n")
            elif path == "/readyz":
                if published.ready:
                    self._send(200, b"ok\n")
                else:
                    self._send(503, b"no complete audit yet\n")
            else:
                self._send(404, b"not found: /metrics, /healthz, /readyz\n")

        def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], exporter: Exporter) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, _handler(exporter))

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):  # full: refuse this one, never queue behind stalled ones
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def run(exporter: Exporter, host: str, port: int, interval: float) -> None:
    """Serve until SIGTERM or SIGINT, auditing every `interval` seconds in a thread of its own."""
    server = Server((host, port), exporter)
    bound = server.server_address
    shown = f"[{bound[0]!s}]" if ":" in str(bound[0]) else str(bound[0])
    log.warning("exporter listening on http://%s:%d (audit every %gs)", shown, bound[1], interval)
    worker = threading.Thread(target=exporter.loop, args=(interval,), name="audit", daemon=True)
    worker.start()

    def stop(signum: int, frame: Any) -> None:
        exporter.stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
