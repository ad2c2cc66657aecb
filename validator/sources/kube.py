"""Reading a live cluster through the Kubernetes API: its nodes, and (on request) its Calico pools.

Only `lint --kubeconfig` imports this module, and only this module imports the kubernetes client, so
`lint` on files starts fast. Lists are paged (`limit`/`continue`) and read as raw JSON, so ten thousand nodes
cost no typed model objects. The Calico API group is found by discovery: `projectcalico.org/v3` when the
Calico API server serves it, else the CRDs of `crd.projectcalico.org/v1` (never both: the first is stored
as the second, so reading both would read every pool twice).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from ..model import Cluster
from .manifests import add_object

PAGE_SIZE = 500
TIMEOUT = (5, 60)  # seconds to connect, to read one page
CALICO_GROUPS = (("projectcalico.org", "v3"), ("crd.projectcalico.org", "v1"))
CALICO_RESOURCES = ("ippools", "ipreservations", "ipamconfigurations", "ipamconfigs")


class ClusterReadError(Exception):
    """The cluster could not be read (kubeconfig, connection, permission): a message for the user."""


class ApiError(Exception):
    def __init__(self, status: int, reason: str, body: bytes | None) -> None:
        super().__init__(f"HTTP {status} {reason}")
        self.status, self.reason, self.body = status, reason, body


@dataclass
class LiveCluster:
    context: str
    cluster: Cluster
    calico_group: str = ""  # "group/version" the pools were read from, "" when not asked


def read_cluster(kubeconfig: str, context: str | None = None, pools: bool = False) -> LiveCluster:
    """Nodes (and with `pools`, IPPools, IPReservations and IPAM settings) of the cluster `context` names."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    from urllib3.exceptions import HTTPError

    name, api = _client(kubeconfig, context)
    live = LiveCluster(name, Cluster())
    try:
        for node in _list(api, "/api/v1/nodes"):
            add_object(f"cluster:{name}/nodes/{_name(node)}", 1, _typed(node, "v1", "Node"), live.cluster)
        live.cluster.nodes_known = True
        if pools:
            live.calico_group = _read_calico(api, name, live.cluster)
    except (ApiException, ApiError) as err:
        raise ClusterReadError(f"cluster {name}: {_api_error(err)}") from None
    except (HTTPError, OSError) as err:
        host = api.configuration.host
        raise ClusterReadError(f"cluster {name}: cannot reach the API server at {host}: {err}") from None
    finally:
        if isinstance(api, client.ApiClient):
            api.close()
    return live


def _client(kubeconfig: str, context: str | None) -> tuple[str, Any]:
    from kubernetes import client, config

    try:
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
    except (config.ConfigException, OSError, ValueError, TypeError, yaml.YAMLError) as err:
        problem = " ".join(str(err).split())
        raise ClusterReadError(f"{kubeconfig}: not a usable kubeconfig: {problem}") from None
    names = [c.get("name") for c in contexts or []]
    if context is None:
        if not active:
            raise ClusterReadError(f"{kubeconfig}: no current-context; pick one with --context "
                                   f"({', '.join(map(str, names)) or 'none defined'})")
        context = str(active.get("name"))
    elif context not in names:
        defined = ", ".join(map(str, names))
        raise ClusterReadError(f"{kubeconfig}: no context {context!r}; it defines {defined}")
    configuration = client.Configuration()
    try:
        config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration,
                                persist_config=False)
    except (config.ConfigException, OSError, ValueError, TypeError, yaml.YAMLError) as err:
        raise ClusterReadError(f"{kubeconfig}: context {context}: {err}") from None
    configuration.retries = 1
    return context, client.ApiClient(configuration)


def _get(api: Any, path: str, query: list[tuple[str, Any]] | None = None) -> Any:
    """GET a path as JSON. Bypasses the typed API methods: newer clients validate their arguments with
    pydantic models that take seconds to build on first use, which a pre-commit hook cannot afford."""
    header = {"Accept": "application/json"}
    if hasattr(api, "param_serialize"):  # clients made by the newer OpenAPI generator
        method, url, headers, _, _ = api.param_serialize(
            method="GET", resource_path=path, query_params=query or [], header_params=header,
            auth_settings=["BearerToken"])
        raw = api.call_api(method, url, header_params=headers, _request_timeout=TIMEOUT).response
    else:
        raw = api.call_api(path, "GET", query_params=query or [], header_params=header,
                           auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True,
                           _request_timeout=TIMEOUT)
    try:
        if raw.status >= 400:
            raise ApiError(raw.status, raw.reason or "", raw.data)
        return json.loads(raw.data or b"{}")
    finally:
        raw.release_conn()


def _list(api: Any, path: str) -> Iterator[Mapping[str, Any]]:
    """Every item of a list endpoint, a page at a time."""
    token = ""
    while True:
        query: list[tuple[str, Any]] = [("limit", PAGE_SIZE)] + ([("continue", token)] if token else [])
        page = _get(api, path, query)
        for item in page.get("items") or []:
            if isinstance(item, Mapping):
                yield item
        token = (page.get("metadata") or {}).get("continue") or ""
        if not token:
            return


def _read_calico(api: Any, context: str, into: Cluster) -> str:
    served = {(g.get("name"), v.get("version")) for g in _get(api, "/apis").get("groups") or []
              for v in g.get("versions") or []}
    for group, version in CALICO_GROUPS:
        if (group, version) not in served:
            continue
        base = f"/apis/{group}/{version}"
        resources = {r.get("name"): r.get("kind") for r in _get(api, base).get("resources") or []}
        for plural in CALICO_RESOURCES:
            if plural not in resources:
                continue
            for obj in _list(api, f"{base}/{plural}"):
                add_object(f"cluster:{context}/{plural}/{_name(obj)}", 1,
                           _typed(obj, f"{group}/{version}", str(resources[plural])), into)
        return f"{group}/{version}"
    raise ClusterReadError(f"cluster {context}: --cluster-pools: the cluster serves neither "
                           "projectcalico.org/v3 nor crd.projectcalico.org/v1 (is Calico installed?)")


def overlay(live: Cluster, repository: Cluster) -> None:
    """Add the live objects to the repository's, except those the repository defines under the same name.

    The repository is what is about to be applied: its pool `rack-1` replaces the live `rack-1` (in either
    API group), as `kubectl apply` would, instead of being reported as a duplicate of it.
    """
    pool_names = {p.name for p in repository.pools}
    node_names = {n.name for n in repository.nodes}
    reservation_names = {r.resource.name for r in repository.reservations}
    ipam_names = {s.resource.name for s in repository.ipam}
    repository.pools.extend(p for p in live.pools if p.name not in pool_names)
    repository.nodes.extend(n for n in live.nodes if n.name not in node_names)
    repository.reservations.extend(r for r in live.reservations if r.resource.name not in reservation_names)
    repository.ipam.extend(s for s in live.ipam if s.resource.name not in ipam_names)
    names = {"IPPool": pool_names, "IPReservation": reservation_names, "IPAMConfiguration": ipam_names,
             "IPAMConfig": ipam_names}
    repository.manifests.extend(
        m for m in live.manifests if m.resource.name not in names.get(m.resource.kind, set()))
    repository.problems.extend(live.problems)
    repository.nodes_known = repository.nodes_known or live.nodes_known


def _typed(obj: Mapping[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """List items of built-in kinds come without apiVersion and kind; the model needs them."""
    typed = dict(obj)
    typed.setdefault("apiVersion", api_version)
    typed.setdefault("kind", kind)
    return typed


def _name(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) else "(unnamed)"


def _api_error(err: Any) -> str:
    detail = ""
    try:
        body = json.loads(err.body or b"{}")
        detail = body.get("message", "") if isinstance(body, Mapping) else ""
    except (ValueError, TypeError):
        pass
    return f"HTTP {err.status} {err.reason}" + (f": {detail}" if detail else "")
