"""Manifest shapes: which documents are pools, nodes, reservations or IPAM settings, and how to read them.

This is the only module that knows the forms Calico configuration arrives in: `projectcalico.org/v3` and
`crd.projectcalico.org/v1` objects and their Lists, the tigera operator's `Installation`
(`spec.calicoNetwork.ipPools`), and Kubernetes `Node`, `NodeList` and `v1 List` (what `kubectl get -o yaml`
prints). Any other kind, and any document that is not a mapping, is skipped silently.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import yaml

from ..addresses import parse_network
from ..model import (
    CALICO_API_VERSIONS,
    DEFAULT_MAX_BLOCKS_PER_HOST,
    OPERATOR,
    V1,
    V3,
    Cluster,
    IPAMSettings,
    IPNet,
    Manifest,
    Node,
    OperatorSettings,
    Pool,
    Reservation,
    Resource,
    Source,
)

# tigera/operator api/v1/installation_types.go: EncapsulationType -> the v3 ipipMode / vxlanMode it sets.
ENCAPSULATION_MODES: dict[str, tuple[str, str]] = {
    "IPIP": ("Always", "Never"),
    "IPIPCrossSubnet": ("CrossSubnet", "Never"),
    "VXLAN": ("Never", "Always"),
    "VXLANCrossSubnet": ("Never", "CrossSubnet"),
    "None": ("Never", "Never"),
}
LIST_KINDS = {"List", "IPPoolList", "NodeList", "IPReservationList", "IPAMConfigurationList",
              "IPAMConfigList"}
READ_KINDS = frozenset({"IPPool", "IPReservation", "IPAMConfiguration", "IPAMConfig", "Installation", "Node",
                        *LIST_KINDS})


def may_hold_objects(node: yaml.Node) -> bool:
    """Whether a composed document is of a kind we read, judged from its `kind` key before it is built:
    documents of other kinds (and any that is not a mapping) are never built, so they cost only their parse
    and nothing in them (an unknown tag, a huge integer) can matter."""
    if not isinstance(node, yaml.MappingNode):
        return False
    kind = None
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "kind" and isinstance(value, yaml.ScalarNode):
            kind = value.value
    return kind in READ_KINDS


def _mapping(value: Any) -> Mapping[str, Any]:
    if type(value) is dict:  # what YAML and JSON give: no abstract-class check (the webhook reads many)
        return value
    return value if isinstance(value, Mapping) else {}


def _string_map(value: Any) -> dict[str, str]:
    """Labels and annotations: a mapping of strings (other values are kept as their text)."""
    return {str(k): v if isinstance(v, str) else str(v) for k, v in _mapping(value).items()}


def _line_of(node: yaml.Node | None, fallback: int) -> int:
    return node.start_mark.line + 1 if node is not None else fallback


def _items_nodes(node: yaml.Node | None) -> list[yaml.Node] | None:
    """The YAML nodes of a List's `items`, so each item keeps its own line."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "items" and isinstance(value, yaml.SequenceNode):
            return list(value.value)
    return None


def objects_from_document(file: str, data: Any, node: yaml.Node | None, into: Cluster) -> None:
    """Add what one YAML document holds to `into`; `node` gives line numbers (None: all at line 1)."""
    if not isinstance(data, Mapping):
        return
    line = _line_of(node, 1)
    kind = data.get("kind")
    if isinstance(kind, str) and kind in LIST_KINDS and isinstance(data.get("items"), list):
        item_nodes = _items_nodes(node) or []
        for index, item in enumerate(data["items"]):
            item_node = item_nodes[index] if index < len(item_nodes) else None
            if isinstance(item, Mapping):
                item = _list_item_defaults(data, item)
                add_object(file, _line_of(item_node, line), item, into, ("items", index), item_node)
        return
    add_object(file, line, data, into, (), node)


def _list_item_defaults(list_doc: Mapping[str, Any], item: Mapping[str, Any]) -> Mapping[str, Any]:
    """calicoctl prints `IPPoolList` items without apiVersion/kind: they inherit the List's."""
    if "kind" in item and "apiVersion" in item:
        return item
    kind = str(list_doc.get("kind", ""))
    merged = dict(item)
    if kind.endswith("List") and kind != "List":
        merged.setdefault("kind", kind[: -len("List")])
        merged.setdefault("apiVersion", list_doc.get("apiVersion"))
    return merged


def add_object(file: str, line: int, obj: Mapping[str, Any], into: Cluster,
               item_path: tuple[str | int, ...] = (), node: yaml.Node | None = None) -> None:
    """Classify one Kubernetes object and add its model objects (the webhook calls this too)."""
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    metadata = _mapping(obj.get("metadata"))
    name = metadata.get("name")
    name = name if isinstance(name, str) else ""
    source = Source(file, line)
    annotations = _string_map(metadata.get("annotations"))
    if api_version in CALICO_API_VERSIONS:
        resource = Resource(str(api_version), str(kind), name)
        if kind == "IPPool":
            into.manifests.append(Manifest(resource, source, obj, "ippool", item_path, node))
            into.pools.append(_pool(resource, source, obj, annotations))
        elif kind == "IPReservation":
            into.manifests.append(Manifest(resource, source, obj, "ipreservation", item_path, node))
            cidrs = _mapping(obj.get("spec")).get("reservedCIDRs")
            into.reservations.append(Reservation(
                resource, source, tuple(cidrs) if isinstance(cidrs, list) else (), annotations))
        elif kind in ("IPAMConfiguration", "IPAMConfig"):
            into.manifests.append(Manifest(resource, source, obj, "ipamconfiguration", item_path, node))
            into.ipam.append(_ipam(resource, source, obj, annotations))
    elif api_version == OPERATOR and kind == "Installation":
        _operator_pools(file, line, obj, name, annotations, into, item_path, node)
    elif api_version == "v1" and kind == "Node":
        into.nodes_known = True
        into.nodes.append(Node(Resource("v1", "Node", name), source, _string_map(metadata.get("labels")),
                               annotations, _max_pods(obj)))
    elif api_version == "v1" and kind == "NodeList":
        into.nodes_known = True


def _pool(resource: Resource, source: Source, obj: Mapping[str, Any], annotations: dict[str, str]) -> Pool:
    spec = _mapping(obj.get("spec"))
    conditions = _mapping(obj.get("status")).get("conditions")
    return Pool(
        resource, source, spec, "v3" if resource.api_version == V3 else "v1", annotations,
        tuple(c for c in conditions if isinstance(c, Mapping)) if isinstance(conditions, list) else (),
        spec,
    )


def _ipam(resource: Resource, source: Source, obj: Mapping[str, Any],
          annotations: dict[str, str]) -> IPAMSettings:
    """Calico's IPAM (libcalico-go lib/ipam/ipam.go `autoAssign`) takes `maxBlocksPerHost` 0, the stored
    default, as its built-in limit of 20 blocks; there is no unlimited value. A negative or mistyped
    value is rejected by Calico (ipam-config-invalid, schema-invalid), so the default stays in force."""
    spec = _mapping(obj.get("spec"))
    limit = spec.get("maxBlocksPerHost")
    strict = spec.get("strictAffinity")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        limit = DEFAULT_MAX_BLOCKS_PER_HOST
    return IPAMSettings(resource, source, limit, strict is True, spec, annotations)


# The Installation CRD allows at most this many ipPools (its maxItems; schemas/installation.schema.json says
# the same, and tests/test_schema_limits.py holds the two equal). The API server refuses a longer list before
# any webhook or the operator sees it, so no cluster has those pools: schema-invalid reports the excess, and
# pools are built from the entries the CRD allows, so that an oversized object (only a client on the
# webhook's port can send one) costs what 25 entries cost instead of one pool per entry.
OPERATOR_MAX_POOLS = 25


def _operator_pools(file: str, line: int, obj: Mapping[str, Any], name: str, annotations: dict[str, str],
                    into: Cluster, item_path: tuple[str | int, ...], node: yaml.Node | None) -> None:
    """Each `spec.calicoNetwork.ipPools[]` entry is a pool the operator will create, with its defaults."""
    resource = Resource(OPERATOR, "Installation", name)
    manifest = Manifest(resource, Source(file, line), obj, "installation", item_path, node)
    into.manifests.append(manifest)
    if name != "default":
        return  # the operator reconciles only `default`: these pools never exist (installation-not-default)
    spec = _mapping(obj.get("spec"))
    network = _mapping(spec.get("calicoNetwork"))
    settings = operator_settings(resource, spec)
    cni_type = settings.cni_type
    entries = network.get("ipPools")
    if not isinstance(entries, list):
        return
    entries = entries[:OPERATOR_MAX_POOLS]
    names = operator_pool_names(entries)
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            continue
        pool_name = names[index] or f"{name}.ipPools[{index}]"
        written = f"Installation/{name} spec.calicoNetwork.ipPools[{index}]"
        into.pools.append(Pool(
            Resource(OPERATOR, "IPPool", pool_name, written),
            Source(file, manifest.line_of(("spec", "calicoNetwork", "ipPools", index))),
            operator_entry_spec(entry, cni_type), "operator",
            annotations, (), entry, settings))


DEFAULT_POOL_NAMES = {4: "default-ipv4-ippool", 6: "default-ipv6-ippool"}


def operator_pool_names(entries: list[Any]) -> list[str | None]:
    """The IPPool name the operator gives each Installation entry (None: it cannot tell, the CIDR is invalid).

    tigera/operator pkg/controller/ippool/defaults.go `fillDefaults`: an entry's own `name` wins; an unnamed
    entry is `default-ipv4-ippool` / `default-ipv6-ippool` by its family when it is the only entry, or one of
    exactly two that make a dual-stack pair; any other unnamed entry is named from its CIDR (`cidrToName`:
    the masked network address written out in full, `:` as `.`, then `-` and the prefix length, as in
    `10.244.0.0-16` and `fd00.0000.0000.0000.0000.0000.0000.0000-64`). The operator also adopts the name of
    a pool already in the cluster with the same CIDR; a repository does not show the cluster's pools, so
    that case is not followed here.
    """
    networks: list[IPNet | None] = []
    for entry in entries:
        cidr = entry.get("cidr") if isinstance(entry, Mapping) else None
        try:
            networks.append(parse_network(cidr, strict=False) if isinstance(cidr, str) else None)
        except ValueError:
            networks.append(None)
    families = {n.version for n in networks if n is not None}
    by_family = len(entries) == 1 or (len(entries) == 2 and families == {4, 6})
    names: list[str | None] = []
    for entry, network in zip(entries, networks, strict=True):
        given = entry.get("name") if isinstance(entry, Mapping) else None
        if isinstance(given, str) and given:
            names.append(given)
        elif network is None:
            names.append(None)
        elif by_family:
            names.append(DEFAULT_POOL_NAMES[network.version])
        else:
            names.append(_cidr_name(network))
    return names


def _cidr_name(network: IPNet) -> str:
    address = network.network_address
    text = address.exploded.replace(":", ".") if network.version == 6 else str(address)
    return f"{text}-{network.prefixlen}"


# tigera/operator core_controller.go fillDefaults: the CNI plugin by provider, then the IPAM plugin by CNI.
PROVIDER_CNI = {"AKS": "AzureVNET", "EKS": "AmazonVPC", "GKE": "GKE"}
CNI_IPAM = {"AzureVNET": "AzureVNET", "AmazonVPC": "AmazonVPC", "GKE": "HostLocal"}


def operator_settings(resource: Resource, spec: Mapping[str, Any]) -> OperatorSettings:
    cni = _mapping(spec.get("cni"))
    cni_type = cni.get("type")
    if not isinstance(cni_type, str) or not cni_type:
        cni_type = PROVIDER_CNI.get(str(spec.get("kubernetesProvider", "")), "Calico")
    ipam_type = _mapping(cni.get("ipam")).get("type")
    if not isinstance(ipam_type, str) or not ipam_type:
        ipam_type = CNI_IPAM.get(cni_type, "Calico")
    return OperatorSettings(resource, cni_type, ipam_type)


def operator_entry_spec(entry: Mapping[str, Any], cni_type: Any = "Calico") -> dict[str, Any]:
    """An Installation ipPools entry as the IPPool the operator writes (tigera/operator `fillDefaults` and
    `ToProjectCalico`): IPv4 defaults to IPIP (None without Calico CNI) and natOutgoing Enabled, IPv6 to no
    encapsulation and natOutgoing Disabled; the cidr is masked, as the operator does silently."""
    spec: dict[str, Any] = {}
    for key in ("cidr", "blockSize", "nodeSelector", "disableBGPExport", "allowedUses", "assignmentMode"):
        if key in entry:
            spec[key] = entry[key]
    cidr = entry.get("cidr")
    version = 6 if isinstance(cidr, str) and ":" in cidr else 4
    if isinstance(cidr, str) and "/" in cidr:
        with contextlib.suppress(ValueError):
            spec["cidr"] = str(parse_network(cidr, strict=False))
    if not spec.get("nodeSelector"):
        spec["nodeSelector"] = "all()"
    default_encapsulation = "None" if version == 6 or cni_type not in (None, "Calico") else "IPIP"
    encapsulation = entry.get("encapsulation") or default_encapsulation
    if isinstance(encapsulation, str) and encapsulation in ENCAPSULATION_MODES:
        spec["ipipMode"], spec["vxlanMode"] = ENCAPSULATION_MODES[encapsulation]
    nat = entry.get("natOutgoing") or ("Disabled" if version == 6 else "Enabled")
    spec["natOutgoing"] = nat == "Enabled"
    if entry.get("disableNewAllocations") is True:
        spec["disabled"] = True
    return spec


def _max_pods(obj: Mapping[str, Any]) -> int | None:
    """The node's pod capacity as the kubelet reports it (allocatable first), if the dump has a status."""
    status = _mapping(obj.get("status"))
    for section in ("allocatable", "capacity"):
        pods = _mapping(status.get(section)).get("pods")
        if pods is None:  # no status (every Node a kubelet writes is read here): no exception to raise
            continue
        try:
            value = int(str(pods))
        except (TypeError, ValueError):
            continue
        if value > 0:
            return value
    return None


__all__ = ["objects_from_document", "add_object", "operator_entry_spec", "ENCAPSULATION_MODES", "V1"]
