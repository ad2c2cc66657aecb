"""Prometheus metrics of the webhook, in the text format at /metrics.

With one worker process (the default) the metrics live in a registry of their own. With several, each
worker is its own process, so prometheus_client's multi-process mode is used: `serve` sets
PROMETHEUS_MULTIPROC_DIR before anything imports prometheus_client, every worker writes its values there,
and a scrape of any worker reads all of them.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

if TYPE_CHECKING:
    from .state import State

PREFIX = "ippool_validator"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


class Metrics:
    """The webhook's counters, histogram and state gauges."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        disable_created_metrics()  # the *_created series double the output and say nothing here
        self.multiprocess = bool(multiprocess_dir())
        self.registry = CollectorRegistry()
        # In multi-process mode values go to files and the scrape reads those: no registry per metric.
        registry = None if self.multiprocess else self.registry
        self.requests = Counter(f"{PREFIX}_admission_requests", "AdmissionReview requests, by operation, "
                                "kind and decision (allow, deny, skip: kind not judged, error, bad_request)",
                                ["operation", "kind", "decision"], registry=registry)
        self.denials = Counter(f"{PREFIX}_admission_denials", "Denials, by the rule that denied (one request "
                               "can count for several rules)", ["rule"], registry=registry)
        self.latency = Histogram(f"{PREFIX}_admission_duration_seconds", "Time to answer POST /validate",
                                 buckets=LATENCY_BUCKETS, registry=registry)
        self.bad_requests = Counter(f"{PREFIX}_bad_requests", "Requests refused with a 4xx, by reason",
                                    ["reason"], registry=registry)
        self.internal_errors = Counter(f"{PREFIX}_internal_errors", "Requests that failed inside the webhook "
                                       "and were answered as --on-error says", registry=registry)
        # across live workers: the largest state, the latest sync, and ready only when all of them are
        largest: dict[str, str] = {"multiprocess_mode": "livemax"} if self.multiprocess else {}
        smallest: dict[str, str] = {"multiprocess_mode": "livemin"} if self.multiprocess else {}
        self.state_objects = Gauge(f"{PREFIX}_state_objects", "Objects in the cluster state, by kind",
                                   ["kind"], registry=registry, **largest)  # type: ignore[arg-type]
        self.last_sync = Gauge(f"{PREFIX}_state_last_sync_timestamp_seconds", "Unix time of the last list or "
                               "watch event applied to the state", registry=registry,
                               **largest)  # type: ignore[arg-type]
        self.state_age = Gauge(f"{PREFIX}_state_snapshot_generation", "How many times the state was rebuilt",
                               registry=registry, **largest)  # type: ignore[arg-type]
        self.ready = Gauge(f"{PREFIX}_ready", "1 once the cluster state is synced", registry=registry,
                           **smallest)  # type: ignore[arg-type]
        self._request_counts: dict[tuple[str, str, str], Any] = {}
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(self.registry)

    def count_request(self, operation: str, kind: str, decision: str) -> None:
        """One request in `requests`; its labelled child is kept (the labels are few: operations x judged
        kinds x decisions), which spares prometheus_client's label check and lock on every request."""
        key = (operation, kind, decision)
        child = self._request_counts.get(key)
        if child is None:
            child = self._request_counts[key] = self.requests.labels(operation, kind, decision)
        child.inc()

    def observe_state(self, state: State) -> None:
        snapshot = state.current()
        self.ready.set(1 if state.ready() else 0)
        if snapshot is not None:
            for kind, count in snapshot.size.items():
                self.state_objects.labels(kind).set(count)
            self.state_age.set(snapshot.generation)
        self.last_sync.set(state.last_sync() or 0)

    def render(self, state: State) -> bytes:
        self.observe_state(state)
        return generate_latest(self.registry)


def now() -> float:
    return time.perf_counter()
