"""Reading the cluster for the exporter: one read-only pass of paged lists per interval, and a diff.

Each pass lists what `audit --kubeconfig` reads (validator.audit.live): the Calico kinds from the group
Calico itself would use, per resource (`crd.projectcalico.org/v1` unless it is absent), Nodes whole, Pods as
metadata only (`PartialObjectMetadataList`: the `cni.projectcalico.org/podIPs` annotation is Calico's record
of a pod's addresses), a pod whole only when an allocation names it and Calico has not annotated it, and
IPAMHandles streamed at the audit's handle checks. Nothing is watched: a watch on blocks receives a whole
block (15-20 KB) for every allocation and release.

The diff: decoded blocks, affinities and pods are kept by (name, resourceVersion) from the previous pass, so
an unchanged block is not converted again; the cache is rebuilt from each list, so an object gone from the
cluster is gone from it, and memory is bounded by the cluster as it is now. Cached objects are shared
between passes; the audit never changes them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from ..audit import convert
from ..audit.live import CALICO_KINDS, METADATA_LIST
from ..audit.model import Affinity, AuditState, Block, Handle, Pod
from ..model import Cluster, Source
from ..sources.files import input_problem
from ..sources.kube import ClusterReadError, _typed
from ..sources.kubeapi import Api, ApiError, calico_resource_paths

T = TypeVar("T")
Key = tuple[str, str]  # (name or namespace/name, resourceVersion)


def api_client(kubeconfig: str | None, context: str | None) -> tuple[str, Any]:
    """(context name, ApiClient): this pod's service account unless a kubeconfig or context is given,
    else $KUBECONFIG or ~/.kube/config."""
    from kubernetes import client, config

    from ..sources.kube import _client

    if kubeconfig is None and context is None:
        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)
            return "in-cluster", client.ApiClient(configuration)
        except config.ConfigException:
            pass
    path = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or \
        os.path.expanduser("~/.kube/config")
    return _client(path, context)


@dataclass
class Cache:
    """Decoded objects of the last pass, by (name, resourceVersion)."""

    blocks: dict[Key, Block | None] = field(default_factory=dict)
    affinities: dict[Key, Affinity | None] = field(default_factory=dict)
    pods: dict[Key, Pod] = field(default_factory=dict)
    whole_pods: dict[Key, Pod] = field(default_factory=dict)
    decoded: int = 0  # objects converted in the last pass (the rest came from the cache)


def _key(obj: Mapping[str, Any]) -> Key:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(metadata, Mapping)
    name = str(metadata.get("name") or "")
    namespace = metadata.get("namespace")
    return (f"{namespace}/{name}" if namespace else name, str(metadata.get("resourceVersion") or ""))


class Reader:
    """Reads one AuditState per call, reusing what did not change since the previous call."""

    def __init__(self, api: Api, context: str) -> None:
        self.api, self.context = api, context
        self.cache = Cache()

    def read(self) -> AuditState:
        state = AuditState(origin=f"cluster:{self.context}", taken_at=datetime.now(timezone.utc))
        paths = calico_resource_paths(self.api, CALICO_KINDS)
        if "IPAMBlock" not in paths:
            raise ClusterReadError(f"cluster {self.context}: serves no IPAMBlocks in "
                                   "crd.projectcalico.org/v1 or projectcalico.org/v3 (is Calico installed, "
                                   "in Kubernetes datastore mode?)")
        state.calico_groups = {kind: version for kind, (_, version) in paths.items()}
        new = Cache()
        self._cluster(state, paths)
        state.blocks = self._decode(paths["IPAMBlock"], "IPAMBlock", self.cache.blocks, new.blocks, new,
                                    lambda obj, src: self._block(obj, src, state))
        if "BlockAffinity" in paths:
            state.affinities = self._decode(paths["BlockAffinity"], "BlockAffinity", self.cache.affinities,
                                            new.affinities, new, convert.affinity)
        state.pods, state.pod_status = self._pods(state, new), False
        if "IPAMHandle" in paths:
            state.handles = _Handles(self.api, self.context, *paths["IPAMHandle"])
        self.cache = new  # only now: a pass that fails keeps the previous cache
        return state

    def _where(self, path: str, name: str) -> Source:
        return Source(f"cluster:{self.context}/{path.rsplit('/', 1)[-1]}/{name or '(unnamed)'}")

    def _items(self, path: str, accept: str = "application/json") -> Iterator[Mapping[str, Any]]:
        for page in self.api.pages(path, accept):
            yield from (i for i in page.get("items") or [] if isinstance(i, Mapping))

    def _cluster(self, state: AuditState, paths: Mapping[str, tuple[str, str]]) -> None:
        from ..sources.manifests import add_object

        cluster = Cluster()
        for node in self._items("/api/v1/nodes"):
            add_object(str(self._where("/nodes", _key(node)[0])), 1, _typed(node, "v1", "Node"), cluster)
        for kind in ("IPPool", "IPReservation", "IPAMConfig"):
            if kind in paths:
                path, api_version = paths[kind]
                for obj in self._items(path):
                    where = str(self._where(path, _key(obj)[0]))
                    add_object(where, 1, _typed(obj, api_version, kind), cluster)
        state.pools, state.reservations, state.nodes = cluster.pools, cluster.reservations, cluster.nodes
        state.ipam, state.nodes_known = cluster.ipam_settings, True

    def _decode(self, where: tuple[str, str], kind: str, old: Mapping[Key, T | None],
                new: dict[Key, T | None], counts: Cache,
                decode: Callable[[Mapping[str, Any], Source], T | None]) -> list[T]:
        path, api_version = where
        found: list[T] = []
        for obj in self._items(path):
            key = _key(obj)
            if key in old and key[1]:
                value = old[key]
            else:
                value = decode(_typed(obj, api_version, kind), self._where(path, key[0]))
                counts.decoded += 1
            new[key] = value
            if value is not None:
                found.append(value)
        return found

    def _block(self, obj: Mapping[str, Any], source: Source, state: AuditState) -> Block | None:
        try:
            return convert.block(obj, source)
        except convert.ObjectError as err:
            state.problems.append(input_problem(source.file, 1, str(err)))
            return None

    def _pods(self, state: AuditState, new: Cache) -> dict[tuple[str, str], Pod]:
        pods: dict[tuple[str, str], Pod] = {}
        for obj in self._items("/api/v1/pods", METADATA_LIST):
            key = _key(obj)
            pod = self.cache.pods.get(key) if key[1] else None
            if pod is None:
                pod = convert.pod(obj, Source(f"cluster:{self.context}/pods/{key[0]}"))
                new.decoded += 1
            new.pods[key] = pod
            pods[(pod.namespace, pod.name)] = pod
        named = {(a.namespace, a.pod) for b in state.blocks for a in b.allocations if a.is_pod}
        for name in sorted(named):
            known = pods.get(name)
            if known is None or known.annotation_ips:
                continue
            whole = self._whole_pod(name, known, new)  # not annotated by Calico yet: its status says
            if whole is None:
                del pods[name]
            else:
                pods[name] = whole
        return pods

    def _whole_pod(self, name: tuple[str, str], known: Pod, new: Cache) -> Pod | None:
        try:
            obj = self.api.get(f"/api/v1/namespaces/{name[0]}/pods/{name[1]}")
        except ApiError as err:
            if err.status == 404:
                return None
            raise
        key = _key(obj)
        pod = self.cache.whole_pods.get(key) or convert.pod(obj, known.source)
        new.whole_pods[key] = pod
        return pod


class _Handles:
    """The cluster's handles, a page at a time, when the audit reaches its handle checks. A failure while
    paging fails the pass (the exporter keeps the last good series): half the handles would publish every
    address of the other half as a missing handle."""

    def __init__(self, api: Api, context: str, path: str, api_version: str) -> None:
        self.api, self.context, self.path, self.api_version = api, context, path, api_version

    def __iter__(self) -> Iterator[Handle]:
        where = f"cluster:{self.context}/{self.path.rsplit('/', 1)[-1]}"
        for page in self.api.pages(self.path):
            for obj in page.get("items") or []:
                if isinstance(obj, Mapping):
                    found = convert.handle(_typed(obj, self.api_version, "IPAMHandle"),
                                           f"{where}/{_key(obj)[0]}", 1)
                    if found is not None:
                        yield found
