"""A fake Kubernetes API server for tests: discovery, paged lists and streaming watches over plain HTTP.

No kube-apiserver (nor etcd, kind or k3s) can run on the machines these tests run on, so this stands in
for one. It speaks just enough of the API for clients that list and watch: `/api`, `/apis` and
`/apis/{group}/{version}` discovery; `GET {resource path}` lists with `resourceVersion`, `limit` and
`continue`; `?watch=1` streams JSON lines of ADDED, MODIFIED, DELETED and BOOKMARK events, and ERROR
events with a `410 Gone` Status when asked for history it no longer keeps (see `compact`). A metadata-only
request (`Accept: ...;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`) gets PartialObjectMetadata.

Namespaced objects (Pods) are stored by namespace and name: `{resource path}` lists them across all
namespaces, `/api/v1/namespaces/{ns}/pods/{name}` gets one (the IPAM audit's only namespaced reads), and
`delete` takes "ns/name". The IPAM CRDs (blocks, affinities, handles) are resource types like any other.

Tests drive it while clients are connected: `add`, `modify`, `delete` objects; `expire_watches` ends every
open watch with an ERROR 410 (as the API server does when etcd compacted the client's resourceVersion);
`drop_watches` closes every watch connection without a word (a proxy or the server going away);
`fail_next` makes the next requests on a path fail with a status. The kubernetes Python client accepts
an `http://` server in a kubeconfig (`write_kubeconfig`) or a `Configuration(host=...)`.

It binds 127.0.0.1 only, on a free port chosen by the system.
"""

from __future__ import annotations

import copy
import json
import socket
import struct
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

METADATA_ONLY = "as=PartialObjectMetadata"


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core API
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def path(self) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        return f"{base}/{self.plural}"


NODES = ResourceType("", "v1", "nodes", "Node")
CRD_IPPOOLS = ResourceType("crd.projectcalico.org", "v1", "ippools", "IPPool")
CRD_IPRESERVATIONS = ResourceType("crd.projectcalico.org", "v1", "ipreservations", "IPReservation")
CRD_IPAMCONFIGS = ResourceType("crd.projectcalico.org", "v1", "ipamconfigs", "IPAMConfig")
V3_IPPOOLS = ResourceType("projectcalico.org", "v3", "ippools", "IPPool")
V3_IPRESERVATIONS = ResourceType("projectcalico.org", "v3", "ipreservations", "IPReservation")
V3_IPAMCONFIGURATIONS = ResourceType("projectcalico.org", "v3", "ipamconfigurations", "IPAMConfiguration")
INSTALLATIONS = ResourceType("operator.tigera.io", "v1", "installations", "Installation")
PODS = ResourceType("", "v1", "pods", "Pod")
CRD_IPAMBLOCKS = ResourceType("crd.projectcalico.org", "v1", "ipamblocks", "IPAMBlock")
CRD_BLOCKAFFINITIES = ResourceType("crd.projectcalico.org", "v1", "blockaffinities", "BlockAffinity")
CRD_IPAMHANDLES = ResourceType("crd.projectcalico.org", "v1", "ipamhandles", "IPAMHandle")
V3_IPAMBLOCKS = ResourceType("projectcalico.org", "v3", "ipamblocks", "IPAMBlock")
V3_BLOCKAFFINITIES = ResourceType("projectcalico.org", "v3", "blockaffinities", "BlockAffinity")
V3_IPAMHANDLES = ResourceType("projectcalico.org", "v3", "ipamhandles", "IPAMHandle")
CALICO_IPAM_CRDS = (CRD_IPAMBLOCKS, CRD_BLOCKAFFINITIES, CRD_IPAMHANDLES)
CALICO_IPAM_V3 = (V3_IPAMBLOCKS, V3_BLOCKAFFINITIES, V3_IPAMHANDLES)
CALICO_CRDS = (CRD_IPPOOLS, CRD_IPRESERVATIONS, CRD_IPAMCONFIGS)
CALICO_V3 = (V3_IPPOOLS, V3_IPRESERVATIONS, V3_IPAMCONFIGURATIONS)
DEFAULT_RESOURCES = (NODES, *CALICO_CRDS, INSTALLATIONS)


@dataclass
class _Event:
    version: int
    type: str
    resource: ResourceType
    obj: dict[str, Any]


class FakeKube:
    """The fake API server; use as a context manager, or `start()` and `stop()`."""

    def __init__(self, resources: Iterable[ResourceType] = DEFAULT_RESOURCES, history: int = 10_000) -> None:
        self.resources = {r.path: r for r in resources}
        self._objects: dict[str, dict[str, dict[str, Any]]] = {path: {} for path in self.resources}
        self._events: list[_Event] = []
        self._oldest = 1  # the oldest resourceVersion a watch may resume from
        self._version = 1
        self._history = history
        self._lock = threading.Condition()
        self._generation = 0  # bumped by expire_watches / drop_watches
        self._ending: dict[int, str] = {}
        self._failures: list[tuple[str, int, int]] = []  # (path prefix, status, remaining)
        self.requests: list[tuple[str, str, str]] = []  # (path, query, Accept header)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="kubefake", daemon=True)
        self._connections: set[socket.socket] = set()

    # lifecycle

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeKube:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.drop_watches()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeKube:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_kubeconfig(self, path: str | Path) -> Path:
        """A kubeconfig whose current context is this server (no credentials)."""
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "fake",
                  "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                  "users": [{"name": "fake", "user": {"token": "fake-token"}}],
                  "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}]}
        Path(path).write_text(json.dumps(config), encoding="utf-8")
        return Path(path)

    # the objects

    def add(self, obj: Mapping[str, Any], event: str = "ADDED") -> dict[str, Any]:
        """Store an object (its apiVersion and kind pick the resource); returns it with a resourceVersion."""
        resource = self._resource_of(obj)
        stored = copy.deepcopy(dict(obj))
        with self._lock:
            self._version += 1
            metadata = stored.setdefault("metadata", {})
            metadata["resourceVersion"] = str(self._version)
            metadata.setdefault("uid", f"uid-{metadata.get('name')}")
            self._objects[resource.path][_key(metadata)] = stored
            self._record(_Event(self._version, event, resource, stored))
        return stored

    def modify(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return self.add(obj, "MODIFIED")

    def delete(self, resource: ResourceType, name: str) -> None:
        with self._lock:
            stored = self._objects[resource.path].pop(name)
            self._version += 1
            gone = copy.deepcopy(stored)
            gone["metadata"]["resourceVersion"] = str(self._version)
            self._record(_Event(self._version, "DELETED", resource, gone))

    def add_all(self, objects: Iterable[Mapping[str, Any]]) -> None:
        for obj in objects:
            self.add(obj)

    def _record(self, event: _Event) -> None:
        self._events.append(event)
        if len(self._events) > self._history:
            dropped = self._events[: len(self._events) - self._history]
            del self._events[: len(dropped)]
            self._oldest = dropped[-1].version + 1
        self._lock.notify_all()

    def _resource_of(self, obj: Mapping[str, Any]) -> ResourceType:
        for resource in self.resources.values():
            if resource.api_version == obj.get("apiVersion") and resource.kind == obj.get("kind"):
                return resource
        raise KeyError(f"no resource serves {obj.get('apiVersion')} {obj.get('kind')}")

    # trouble on demand

    def compact(self) -> None:
        """Forget all history: a watch from any earlier resourceVersion gets 410 Gone."""
        with self._lock:
            self._events.clear()
            self._oldest = self._version + 1

    def expire_watches(self) -> None:
        """End every open watch with an ERROR event carrying a 410 Gone Status."""
        self._end_watches("expire")
        self.compact()

    def drop_watches(self) -> None:
        """Close every open watch connection abruptly."""
        self._end_watches("drop")

    def _end_watches(self, how: str) -> None:
        with self._lock:
            self._ending[self._generation] = how
            self._generation += 1
            self._lock.notify_all()

    def fail_next(self, path_prefix: str, status: int = 500, times: int = 1) -> None:
        with self._lock:
            self._failures.append((path_prefix, status, times))

    def watch_count(self) -> int:
        return sum(1 for path, query, _ in self.requests if "watch=1" in query or "watch=true" in query)

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return bool(predicate())

    def _failure(self, path: str) -> int:
        with self._lock:
            for i, (prefix, status, remaining) in enumerate(self._failures):
                if path.startswith(prefix):
                    if remaining <= 1:
                        del self._failures[i]
                    else:
                        self._failures[i] = (prefix, status, remaining - 1)
                    return status
        return 0


def _key(metadata: Mapping[str, Any]) -> str:
    namespace = metadata.get("namespace")
    return f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


def _metadata_only(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
            "metadata": copy.deepcopy(obj.get("metadata", {}))}


def _handler_for(fake: FakeKube) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # lists keep the connection; a watch is chunked, as the API server's

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            path, query = parts.path.rstrip("/"), parse_qs(parts.query)
            accept = self.headers.get("Accept", "")
            fake.requests.append((path, parts.query, accept))
            failure = fake._failure(path)
            if failure:
                return self._json(failure, status_body(failure, "InternalError", "injected failure"))
            if path == "/api":
                return self._json(200, {"kind": "APIVersions", "versions": ["v1"]})
            if path == "/apis":
                return self._json(200, self._groups())
            resource = fake.resources.get(path)
            if resource is not None:
                if query.get("watch", [""])[0] in ("1", "true"):
                    return self._watch(resource, query, METADATA_ONLY in accept)
                return self._list(resource, query, METADATA_ONLY in accept)
            if path.startswith("/api/v1/namespaces/") and path.count("/") == 6:  # .../{ns}/pods/{name}
                _, _, _, _, namespace, plural, name = path.split("/")
                found = fake._objects.get(f"/api/v1/{plural}", {}).get(f"{namespace}/{name}")
                if found is not None:
                    return self._json(200, found)
                return self._json(404, status_body(404, "NotFound", f'{plural} "{name}" not found'))
            listing = self._resource_list(path)
            if listing is not None:
                return self._json(200, listing)
            self._json(404, status_body(404, "NotFound", f"the server could not find {path}"))

        def _groups(self) -> dict[str, Any]:
            groups: dict[str, list[str]] = {}
            for resource in fake.resources.values():
                if resource.group:
                    groups.setdefault(resource.group, [])
                    if resource.version not in groups[resource.group]:
                        groups[resource.group].append(resource.version)
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": name, "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
                 "preferredVersion": {"groupVersion": f"{name}/{versions[0]}", "version": versions[0]}}
                for name, versions in groups.items()]}

        def _resource_list(self, path: str) -> dict[str, Any] | None:
            found = [r for r in fake.resources.values() if r.path.rsplit("/", 1)[0] == path]
            if not found:
                return None
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": found[0].api_version,
                    "resources": [{"name": r.plural, "singularName": r.kind.lower(), "namespaced": False,
                                   "kind": r.kind, "verbs": ["get", "list", "watch"]} for r in found]}

        def _list(self, resource: ResourceType, query: dict[str, list[str]], metadata_only: bool) -> None:
            limit = int(query.get("limit", ["0"])[0] or 0)
            offset = int(query.get("continue", ["0"])[0] or 0)
            with fake._lock:
                items = [fake._objects[resource.path][k] for k in sorted(fake._objects[resource.path])]
                version = fake._version
            page = items[offset: offset + limit] if limit else items[offset:]
            more = bool(limit) and offset + limit < len(items)
            body = {"kind": f"{resource.kind}List", "apiVersion": resource.api_version,
                    "metadata": {"resourceVersion": str(version), **({"continue": str(offset + limit)} if more
                                                                       else {})},
                    "items": [_metadata_only(i) if metadata_only else i for i in page]}
            if metadata_only:
                body["kind"], body["apiVersion"] = "PartialObjectMetadataList", "meta.k8s.io/v1"
            self._json(200, body)

        def _watch(self, resource: ResourceType, query: dict[str, list[str]], metadata_only: bool) -> None:
            since = int(query.get("resourceVersion", ["0"])[0] or 0)
            timeout = float(query.get("timeoutSeconds", ["300"])[0] or 300)
            deadline = time.monotonic() + timeout
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.close_connection = True
            try:
                self._stream(resource, since, deadline, metadata_only)
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass

        def _stream(self, resource: ResourceType, since: int, deadline: float, metadata_only: bool) -> None:
            with fake._lock:
                generation = fake._generation
                if since and since < fake._oldest - 1:
                    self._send_event({"type": "ERROR", "object": status_body(
                        410, "Expired", f"too old resource version: {since} ({fake._oldest - 1})")})
                    return
            sent = since
            while True:
                with fake._lock:
                    pending = [e for e in fake._events if e.version > sent and e.resource == resource]
                    if not pending and fake._generation == generation:
                        fake._lock.wait(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
                        pending = [e for e in fake._events if e.version > sent and e.resource == resource]
                    ending = fake._ending.get(generation) if fake._generation != generation else None
                for event in pending:
                    obj = _metadata_only(event.obj) if metadata_only else event.obj
                    self._send_event({"type": event.type, "object": obj})
                    sent = event.version
                if ending == "drop":  # half a chunk, then a reset: the client sees a broken stream
                    self.wfile.write(b"40\r\n{\"type\": \"MODIF")
                    self.wfile.flush()
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    raise OSError("dropped on purpose")
                if ending == "expire":
                    self._send_event({"type": "ERROR", "object": status_body(
                        410, "Expired", "The resourceVersion for the provided watch is too old.")})
                    return
                if time.monotonic() >= deadline:
                    return

        def _send_event(self, event: dict[str, Any]) -> None:
            data = json.dumps(event).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def node(name: str, labels: Mapping[str, str] | None = None, pods: int | None = None) -> dict[str, Any]:
    all_labels = {"kubernetes.io/hostname": name, **(labels or {})}
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Node",
                           "metadata": {"name": name, "labels": all_labels}}
    if pods is not None:
        obj["status"] = {"allocatable": {"pods": str(pods)}}
    return obj


def ippool(name: str, cidr: str, selector: str = "all()", api_version: str = "crd.projectcalico.org/v1",
           **spec: Any) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": "IPPool", "metadata": {"name": name},
            "spec": {"cidr": cidr, "nodeSelector": selector, **spec}}


def ipreservation(name: str, *cidrs: str, api_version: str = "crd.projectcalico.org/v1") -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": "IPReservation", "metadata": {"name": name},
            "spec": {"reservedCIDRs": list(cidrs)}}


def installation(pools: list[dict[str, Any]], name: str = "default") -> dict[str, Any]:
    return {"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": {"name": name},
            "spec": {"calicoNetwork": {"ipPools": pools}}}
