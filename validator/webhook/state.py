"""Where the webhook's cluster state comes from: a folder of YAML (`--state DIR`) or the cluster itself.

Both give a `Snapshot`: pools, nodes, reservations and IPAM settings as the linter's model objects (read by
the linter's own classifier), without manifests (the webhook's schema checks read the written object only).
Pools the operator's Installation describes are kept only while no IPPool of that name exists: once the
operator has created the IPPool, the IPPool is what the cluster has.

`ClusterState` keeps one Reflector per resource (see `kube`) and rebuilds the snapshot in one background
thread when something the rules read has changed, at most every `debounce` seconds (a burst of node
events costs one rebuild). Requests keep judging against the previous snapshot meanwhile: a reference
swap publishes the new one, so no request ever waits for a rebuild or sees half of one.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from ..model import CALICO_API_VERSIONS, Cluster, Pool
from ..sources.files import load_paths
from ..sources.manifests import add_object
from .kube import Api, ApiResource, Reflector, api_client, discover_api
from .snapshot import Snapshot

LOG = logging.getLogger("ippool_validator.state")


class State(Protocol):
    def current(self) -> Snapshot | None: ...
    def ready(self) -> bool: ...
    def last_sync(self) -> float: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def subscribe(self, callback: Callable[[], None]) -> None: ...


def state_cluster(pools: Iterable[Pool], nodes: Iterable[Any], reservations: Iterable[Any],
                  ipam: Iterable[Any], nodes_known: bool, files: int = 0) -> Cluster:
    """The state as rules see it: IPPools win over Installation entries of the same name."""
    pools = list(pools)
    created = {p.name for p in pools if p.resource.api_version in CALICO_API_VERSIONS}
    kept = [p for p in pools if p.resource.api_version in CALICO_API_VERSIONS or p.name not in created]
    return Cluster(pools=kept, nodes=list(nodes), reservations=list(reservations), ipam=list(ipam),
                   nodes_known=nodes_known, files=files)


def settle() -> None:
    """Move everything alive now (the new snapshot above all) out of the garbage collector's sight.

    A snapshot of thousands of nodes is tens of thousands of long-lived objects; every full collection
    would walk them all, a pause of tens of milliseconds in the middle of some request. Frozen objects are
    still freed by reference counting when the next snapshot replaces them (snapshots hold no cycles).
    """
    gc.collect()
    gc.freeze()


class StaticState:
    """A fixed state read once from YAML with the linter's loader (tests, demos, air-gapped dry runs)."""

    def __init__(self, path: str) -> None:
        loaded = load_paths([path])
        for problem in loaded.problems:
            LOG.warning("state %s: %s: %s", path, problem.source, problem.message)
        cluster = state_cluster(loaded.pools, loaded.nodes, loaded.reservations, loaded.ipam,
                                loaded.nodes_known, loaded.files)
        self._synced = time.time()
        self._snapshot = Snapshot(cluster, 1, self._synced).warm()
        settle()

    def current(self) -> Snapshot | None:
        return self._snapshot

    def ready(self) -> bool:
        return True

    def last_sync(self) -> float:
        return self._synced

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever a new snapshot is published (here: once, now)."""
        callback()


class ClusterState:
    """The live cluster, listed and watched; not ready until every resource's first list is in a snapshot."""

    def __init__(self, client: Any = None, kubeconfig: str | None = None, debounce: float = 0.2,
                 watch_timeout: int = 300, min_interval: float = 1.0) -> None:
        self._client = client
        self._kubeconfig = kubeconfig
        self.debounce = debounce
        self.min_interval = min_interval  # a rebuild takes the GIL for ~0.1-0.5 s at 5,000 nodes
        self._published_at = 0.0
        self.watch_timeout = watch_timeout
        self.reflectors: list[Reflector] = []
        self._snapshot: Snapshot | None = None
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._models: dict[tuple[str, str], tuple[str, Cluster]] = {}
        self.generation = 0
        self.rebuilds = 0
        self._subscribers: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback` after each new snapshot is published."""
        self._subscribers.append(callback)

    def current(self) -> Snapshot | None:
        return self._snapshot

    def ready(self) -> bool:
        return self._snapshot is not None

    def last_sync(self) -> float:
        return max((r.last_sync for r in self.reflectors), default=0.0)

    def start(self) -> None:
        thread = threading.Thread(target=self._run, name="state", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._dirty.set()
        for reflector in self.reflectors:
            reflector.stop.set()

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():  # discovery first: which resources exist decides what to watch
            try:
                api = Api(self._client if self._client is not None else api_client(self._kubeconfig))
                resources = discover_api(api)
                break
            except Exception as err:  # noqa: BLE001  (no API yet: stay not-ready and retry)
                LOG.warning("cluster discovery failed: %s; retrying in %.1fs", err, backoff)
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, 30.0)
        else:
            return
        LOG.info("watching %s", ", ".join(r.path for r in resources))
        self.reflectors = [Reflector(api, r, self._changed, self.watch_timeout, self._stop)
                           for r in resources]
        for reflector in self.reflectors:
            thread = threading.Thread(target=reflector.run, name=f"watch {reflector.resource.name}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        self._build_loop()

    def _changed(self, resource: ApiResource) -> None:
        self._dirty.set()

    def _build_loop(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.is_set():
                return
            if not all(r.synced.is_set() for r in self.reflectors):
                self._dirty.clear()
                continue
            wait = max(self.debounce, self._published_at + self.min_interval - time.monotonic())
            time.sleep(wait)  # let a burst of events arrive: one rebuild for all of them
            self._dirty.clear()
            try:
                self._publish()
            except Exception:  # noqa: BLE001  (keep the last good snapshot and say why)
                LOG.exception("rebuilding the cluster state failed; keeping the previous one")

    def _publish(self) -> None:
        into = Cluster()
        seen: set[tuple[str, str]] = set()
        for reflector in self.reflectors:
            for obj in sorted(reflector.items(), key=_name):
                key = (reflector.resource.path, _name(obj))
                seen.add(key)
                version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
                cached = self._models.get(key)
                if cached is None or not version or cached[0] != version:
                    model = Cluster()
                    add_object(f"cluster/{reflector.resource.name}/{_name(obj)}", 1, obj, model)
                    model.manifests = []
                    cached = self._models[key] = (version, model)
                into.extend(cached[1])
        for key in set(self._models) - seen:
            del self._models[key]
        cluster = state_cluster(into.pools, into.nodes, into.reservations, into.ipam, nodes_known=True)
        self.generation += 1
        self._snapshot = Snapshot(cluster, self.generation, self.last_sync()).warm()
        settle()
        self._published_at = time.monotonic()
        self.rebuilds += 1
        for callback in self._subscribers:
            callback()
        LOG.info("cluster state %d: %d pools, %d nodes, %d reservations", self.generation,
                 len(cluster.pools), len(cluster.nodes), len(cluster.reservations))


def _name(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) else ""
