"""What the webhook benchmarks share: AdmissionReview v1 bodies, and a webhook state built from objects in
memory. `memory_state` imports `validator` only when called, so that bench_memory.py can first point
sys.path at another checkout (`--repo`)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any


def admission(operation: str, obj: dict[str, Any] | None, old: dict[str, Any] | None = None,
              compact: bool = False) -> bytes:
    """An AdmissionReview v1 request for `obj` (None on DELETE) replacing `old`; a new uid every time."""
    subject = obj or old
    assert subject is not None
    group, _, version = subject["apiVersion"].rpartition("/")
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": str(uuid.uuid4()), "kind": {"group": group, "version": version, "kind": subject["kind"]},
        "name": subject["metadata"]["name"], "operation": operation, "object": obj, "oldObject": old,
        "dryRun": False}}, separators=(",", ":") if compact else None).encode()


def memory_state(objects: list[dict[str, Any]]) -> Any:
    """A StaticState whose snapshot (warm indexes) holds these objects, as `serve --state DIR` would."""
    from validator.model import Cluster
    from validator.sources.manifests import add_object
    from validator.webhook.snapshot import Snapshot
    from validator.webhook.state import StaticState, settle, state_cluster

    class MemoryState(StaticState):
        def __init__(self) -> None:
            into = Cluster()
            for i, obj in enumerate(objects):
                add_object("bench", i + 1, obj, into)
            cluster = state_cluster(into.pools, into.nodes, into.reservations, into.ipam, nodes_known=True)
            self._synced = time.time()
            self._snapshot = Snapshot(cluster, 1, self._synced).warm()
            settle()

    return MemoryState()
