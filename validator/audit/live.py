"""Reading IPAM state from a live cluster: read-only lists, no datastore lock, no watch.

Each Calico kind is read from the group Calico itself would use (`kubeapi.calico_resource_paths`:
`crd.projectcalico.org/v1` unless absent). Nodes are read whole (labels and `status.allocatable.pods`).
Pods are read as metadata only: the `cni.projectcalico.org/podIPs` annotation is Calico's record of a
pod's addresses, and the allocation's own `node` attribute stands in for `spec.nodeName`; only a pod
that an allocation names and that lacks the annotation is fetched whole. `--pod-status` reads whole pods
(status.podIPs, for dual-stack-mismatch). Handles are paged when the audit reaches its handle checks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from ..model import Cluster, Finding, Source
from ..sources.files import input_problem
from ..sources.kube import ClusterReadError, _api_error, _client, _list, _typed
from ..sources.kubeapi import Api, ApiError, calico_resource_paths
from ..sources.manifests import add_object
from . import convert
from .model import AuditState, Handle

METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
CALICO_KINDS = {
    "IPPool": ("ippools",),
    "IPReservation": ("ipreservations",),
    "IPAMConfig": ("ipamconfigs", "ipamconfigurations"),
    "IPAMBlock": ("ipamblocks",),
    "BlockAffinity": ("blockaffinities",),
    "IPAMHandle": ("ipamhandles",),
}


def read_live(kubeconfig: str, context: str | None, pod_status: bool = False) -> AuditState:
    from kubernetes.client.rest import ApiException
    from urllib3.exceptions import HTTPError

    name, api_client = _client(kubeconfig, context)
    api = Api(api_client)
    try:
        state = _read(api, name, pod_status)
    except (ApiException, ApiError) as err:
        api_client.close()
        raise ClusterReadError(f"cluster {name}: {_api_error(err)}") from None
    except (HTTPError, OSError) as err:
        api_client.close()
        raise ClusterReadError(
            f"cluster {name}: cannot reach the API server at {api_client.configuration.host}: {err}"
        ) from None
    if state.handles is None:
        api_client.close()
    return state


def _read(api: Api, context: str, pod_status: bool) -> AuditState:
    state = AuditState(origin=f"cluster:{context}", taken_at=datetime.now(timezone.utc))
    paths = calico_resource_paths(api, CALICO_KINDS)
    if "IPAMBlock" not in paths:
        raise ClusterReadError(
            f"cluster {context}: serves no IPAMBlocks in crd.projectcalico.org/v1 or "
            "projectcalico.org/v3 (is Calico installed, in Kubernetes datastore mode?)"
        )
    state.calico_groups = {kind: api_version for kind, (_, api_version) in paths.items()}
    cluster = Cluster()
    for node in _list(api, "/api/v1/nodes"):
        add_object(_where(context, "nodes", node), 1, _typed(node, "v1", "Node"), cluster)
    cluster.nodes_known = True
    for kind in ("IPPool", "IPReservation", "IPAMConfig"):
        if kind in paths:
            path, api_version = paths[kind]
            for obj in _list(api, path):
                add_object(_where(context, path, obj), 1, _typed(obj, api_version, kind), cluster)
    state.pools, state.reservations, state.nodes = cluster.pools, cluster.reservations, cluster.nodes
    state.ipam, state.nodes_known = cluster.ipam_settings, True
    _read_ipam(api, context, paths, state)
    state.pods, state.pod_status = _pods(api, context, state, pod_status), pod_status
    if "IPAMHandle" in paths:
        state.handles = _Handles(api, context, *paths["IPAMHandle"], state.problems)
    return state


def _where(context: str, path: str, obj: Mapping[str, Any]) -> str:
    return f"cluster:{context}/{path.rsplit('/', 1)[-1]}/{convert.name_of(obj) or '(unnamed)'}"


def _read_ipam(api: Api, context: str, paths: Mapping[str, tuple[str, str]], state: AuditState) -> None:
    path, api_version = paths["IPAMBlock"]
    for obj in _list(api, path):
        block = convert.block(_typed(obj, api_version, "IPAMBlock"), Source(_where(context, path, obj)))
        if block is not None:
            state.blocks.append(block)
    if "BlockAffinity" in paths:
        path, api_version = paths["BlockAffinity"]
        for obj in _list(api, path):
            affinity = convert.affinity(
                _typed(obj, api_version, "BlockAffinity"), Source(_where(context, path, obj))
            )
            if affinity is not None:
                state.affinities.append(affinity)


def _pods(api: Api, context: str, state: AuditState, whole: bool) -> dict[tuple[str, str], Any]:
    pods: dict[tuple[str, str], Any] = {}
    accept = "application/json" if whole else METADATA_LIST
    for page in api.pages("/api/v1/pods", accept):
        for obj in page.get("items") or []:
            if isinstance(obj, Mapping):
                pod = convert.pod(obj, Source(_pod_where(context, obj)))
                pods[(pod.namespace, pod.name)] = pod
    if whole:
        return pods
    named = {(a.namespace, a.pod) for b in state.blocks for a in b.allocations if a.is_pod}
    for key in sorted(named):
        known = pods.get(key)
        if known is not None and not known.annotation_ips:  # not annotated by Calico yet: read it whole
            try:
                obj = api.get(f"/api/v1/namespaces/{key[0]}/pods/{key[1]}")
            except ApiError as err:
                if err.status == 404:
                    del pods[key]
                    continue
                raise
            pods[key] = convert.pod(obj, known.source)
    return pods


def _pod_where(context: str, obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    return f"cluster:{context}/pods/{metadata.get('namespace', '')}/{metadata.get('name', '')}"


class _Handles:
    """The cluster's handles, a page at a time, when the audit reaches its handle checks."""

    def __init__(self, api: Api, context: str, path: str, api_version: str, problems: list[Finding]) -> None:
        self.api, self.context, self.path, self.api_version = api, context, path, api_version
        self.problems = problems

    def __iter__(self) -> Iterator[Handle]:
        try:
            for obj in _list(self.api, self.path):
                found = convert.handle(
                    _typed(obj, self.api_version, "IPAMHandle"), _where(self.context, self.path, obj), 1
                )
                if found is not None:
                    yield found
        except (ApiError, OSError) as err:
            self.problems.append(
                input_problem(
                    f"cluster:{self.context}/ipamhandles", 1, f"handles could not all be read: {err}"
                )
            )
        finally:
            self.api.client.close()
