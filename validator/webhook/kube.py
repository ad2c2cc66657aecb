"""Cluster state from the Kubernetes API: list, then watch, each resource; re-list when a watch cannot resume.

One `Reflector` thread per resource does what client-go's reflector does: a paged list (which gives a
resourceVersion), then watches from that version with bookmarks; a watch that ends normally is resumed from
the last version seen; one that ends with `410 Gone` (the version was compacted away) or that cannot be
resumed is followed by a new list; errors and dropped connections back off exponentially (with jitter,
at most `MAX_BACKOFF`). Requests go through the kubernetes client's ApiClient (its kubeconfig or in-cluster
credentials and TLS) but bodies are read as raw JSON lines: thousands of nodes cost no typed objects.

Nodes are listed and watched as metadata only (PartialObjectMetadata): labels are all the rules read from
a Node, and the API server sends a fraction of the bytes. So in cluster mode a node's pod capacity is not
known and capacity checks use `max-pods` from the policy. A node event whose labels and annotations did not
change (kubelet heartbeats touch only status) does not rebuild the state.

Which Calico API group is read is found by discovery: `projectcalico.org/v3` when it serves the resource,
else `crd.projectcalico.org/v1` (never both: the API server stores v3 as the v1 CRDs, so reading both would
read every pool twice). The operator's Installations are read when `operator.tigera.io/v1` is served.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..sources.kubeapi import Api, ApiError, Expired, calico_api, name_of

LOG = logging.getLogger("ippool_validator.kube")
MAX_BACKOFF = 30.0
FIRST_BACKOFF = 0.5
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"


@dataclass(frozen=True)
class ApiResource:
    """A listable resource: its path, and the apiVersion/kind its items carry."""

    path: str
    api_version: str
    kind: str
    metadata_only: bool = False

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def discover_api(api: Api) -> list[ApiResource]:
    """The resources to read: nodes, Calico's (from one API group) and the operator's Installations."""
    found = [ApiResource("/api/v1/nodes", "v1", "Node", metadata_only=True)]
    calico = calico_api(api)
    if calico is None:
        LOG.warning("the cluster serves no Calico IPPools (neither projectcalico.org/v3 nor "
                    "crd.projectcalico.org/v1): judging with nodes only")
    else:
        api_version, resources = calico
        found += [ApiResource(f"/apis/{api_version}/{plural}", api_version, kind)
                  for plural, kind in resources.items()]
    groups = {(g.get("name"), v.get("version")) for g in api.get("/apis").get("groups") or []
              for v in g.get("versions") or []}
    if ("operator.tigera.io", "v1") in groups:
        served = {r.get("name") for r in api.get("/apis/operator.tigera.io/v1").get("resources") or []}
        if "installations" in served:
            found.append(ApiResource("/apis/operator.tigera.io/v1/installations", "operator.tigera.io/v1",
                                  "Installation"))
    return found


Store = dict[str, Mapping[str, Any]]


class Reflector:
    """Keeps `store` (name -> object) equal to the API's view of one resource; calls `changed()` on change."""

    def __init__(self, api: Api, resource: ApiResource, changed: Callable[[ApiResource], None],
                 watch_timeout: int = 300, stop: threading.Event | None = None) -> None:
        self.api, self.resource, self.changed = api, resource, changed
        self.store: Store = {}
        self.version = ""
        self.synced = threading.Event()
        self.watch_timeout = watch_timeout
        self.stop = stop or threading.Event()
        self.lists = 0  # how many full lists (for metrics and tests)
        self.errors = 0
        self.last_sync = 0.0
        self._lock = threading.Lock()

    def run(self) -> None:
        backoff = FIRST_BACKOFF
        need_list = True
        while not self.stop.is_set():
            try:
                if need_list:
                    self.relist()
                    need_list = False
                started = time.monotonic()
                self.watch()
                backoff = FIRST_BACKOFF
                if time.monotonic() - started < 1 and self.stop.wait(FIRST_BACKOFF):  # no hot loop
                    return
            except Expired:
                LOG.info("%s: watch expired (410); listing again", self.resource.path)
                need_list = True
            except Exception as err:  # noqa: BLE001  (any failure: back off, then resume or re-list)
                self.errors += 1
                LOG.warning("%s: %s; retrying in %.1fs", self.resource.path, err, backoff)
                need_list = need_list or not self.version
                if self.stop.wait(backoff * random.uniform(0.8, 1.2)):
                    return
                backoff = min(backoff * 2, MAX_BACKOFF)

    def relist(self) -> None:
        items: Store = {}
        version = ""
        accept = METADATA_LIST if self.resource.metadata_only else "application/json"
        for page in self.api.pages(self.resource.path, accept):
            for item in page.get("items") or []:
                if isinstance(item, Mapping):
                    item = self._typed(item)
                    items[name_of(item)] = item
            version = str((page.get("metadata") or {}).get("resourceVersion") or version)
        with self._lock:
            self.store, self.version = items, version
            self.lists += 1
            self.last_sync = time.time()
        self.synced.set()
        self.changed(self.resource)

    def watch(self) -> None:
        timeout = max(1, int(self.watch_timeout * random.uniform(1.0, 1.2)))
        query: list[tuple[str, Any]] = [("watch", 1), ("resourceVersion", self.version),
                                        ("allowWatchBookmarks", "true"), ("timeoutSeconds", timeout)]
        accept = METADATA_WATCH if self.resource.metadata_only else "application/json"
        for line in self.api.lines(self.resource.path, query, accept, timeout + 30):
            if self.stop.is_set():
                return
            self._apply(json.loads(line))

    def _apply(self, event: Mapping[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object")
        if not isinstance(obj, Mapping):
            raise ValueError(f"watch event without an object: {str(event)[:200]}")
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Expired(str(obj.get("message", "")))
            raise ApiError(int(obj.get("code") or 500), str(obj.get("message", "watch error")))
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        if kind == "BOOKMARK":
            self.version = version or self.version
            return
        obj = self._typed(obj)
        name = name_of(obj)
        with self._lock:
            old = self.store.get(name)
            if kind == "DELETED":
                self.store.pop(name, None)
            elif kind in ("ADDED", "MODIFIED"):
                self.store[name] = obj
            self.version = version or self.version
            self.last_sync = time.time()
        if kind == "DELETED" or old is None or not _same_for_rules(old, obj, self.resource):
            self.changed(self.resource)

    def _typed(self, item: Mapping[str, Any]) -> dict[str, Any]:
        typed = dict(item)
        if self.resource.metadata_only or "kind" not in typed:
            typed["apiVersion"], typed["kind"] = self.resource.api_version, self.resource.kind
        return typed

    def items(self) -> list[Mapping[str, Any]]:
        with self._lock:
            return list(self.store.values())


def _same_for_rules(old: Mapping[str, Any], new: Mapping[str, Any], resource: ApiResource) -> bool:
    """True when nothing the rules read changed (a node's status or resourceVersion only)."""
    if resource.kind != "Node":
        return False
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    return old_meta.get("labels") == new_meta.get("labels") and \
        old_meta.get("annotations") == new_meta.get("annotations")


def api_client(kubeconfig: str | None = None) -> Any:
    """An ApiClient for this pod's service account, else for `kubeconfig` ($KUBECONFIG, ~/.kube/config)."""
    from kubernetes import client, config

    configuration = client.Configuration()
    if kubeconfig is None:
        try:
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        except config.ConfigException:
            pass
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration, persist_config=False)
    return client.ApiClient(configuration)
