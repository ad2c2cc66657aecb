"""Reading a live cluster for `lint --kubeconfig`: its nodes, and (on request) its Calico pools.

Only `lint --kubeconfig` imports this module, and the kubernetes client is imported inside its functions,
so `lint` on files starts fast. Requests, paging and the choice of Calico API group are `kubeapi`'s, shared
with the webhook's cluster state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from ..model import Cluster
from .kubeapi import Api, ApiError, calico_api, name_of
from .manifests import add_object


class ClusterReadError(Exception):
    """The cluster could not be read (kubeconfig, connection, permission): a message for the user."""


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

    name, api_client = _client(kubeconfig, context)
    api = Api(api_client)
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
        host = api_client.configuration.host
        raise ClusterReadError(f"cluster {name}: cannot reach the API server at {host}: {err}") from None
    finally:
        if isinstance(api_client, client.ApiClient):
            api_client.close()
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


def _list(api: Api, path: str) -> Iterator[Mapping[str, Any]]:
    """Every item of a list endpoint, a page at a time."""
    for page in api.pages(path):
        yield from (item for item in page.get("items") or [] if isinstance(item, Mapping))


def _read_calico(api: Api, context: str, into: Cluster) -> str:
    found = calico_api(api)
    if found is None:
        raise ClusterReadError(f"cluster {context}: --cluster-pools: the cluster serves neither "
                               "projectcalico.org/v3 nor crd.projectcalico.org/v1 (is Calico installed?)")
    api_version, resources = found
    for plural, kind in resources.items():
        for obj in _list(api, f"/apis/{api_version}/{plural}"):
            add_object(f"cluster:{context}/{plural}/{_name(obj)}", 1, _typed(obj, api_version, kind), into)
    return api_version


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
    return name_of(obj) or "(unnamed)"


def _api_error(err: Any) -> str:
    if isinstance(err, ApiError):
        return str(err)
    detail = ""
    try:
        body = json.loads(err.body or b"{}")
        detail = body.get("message", "") if isinstance(body, Mapping) else ""
    except (ValueError, TypeError):
        pass
    return f"HTTP {err.status} {err.reason}" + (f": {detail}" if detail else "")
