"""Kubernetes objects (as dicts) to the audit model, for both Calico API groups.

`crd.projectcalico.org/v1` (libcalico-go `lib/apis/internalapi`) and `projectcalico.org/v3`
(`api/pkg/apis/projectcalico/v3/ipamblocks.go` ...) use the same JSON field names for IPAM objects; they
differ in BlockAffinity `deleted`, a string "true"/"false" in v1 and a bool in v3
(`lib/backend/k8s/resources/ipam_affinity_v1.go`). Soft-deleted objects (`deleted`) are what Calico's own
readers filter out (`design/ipam/ipam-datastore.md`), so they are dropped here and never counted.
"""

from __future__ import annotations

import ipaddress
import json
import sys
from collections.abc import Mapping
from typing import Any

from ..model import Resource, Source, parse_cidr
from .model import Affinity, Allocation, Block, Handle, Pod

POD_IPS_ANNOTATION = "cni.projectcalico.org/podIPs"
POD_IP_ANNOTATION = "cni.projectcalico.org/podIP"
NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"
_intern = sys.intern


class ObjectError(ValueError):
    """An object the audit cannot use (a block without a CIDR): a message naming it."""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def name_of(obj: Mapping[str, Any]) -> str:
    return _text(_mapping(obj.get("metadata")).get("name"))


def _deleted(spec: Mapping[str, Any]) -> bool:
    value = spec.get("deleted")
    return value is True or (isinstance(value, str) and value.lower() == "true")


def block(obj: Mapping[str, Any], source: Source) -> Block | None:
    """An IPAMBlock, with what `calicoctl ipam check` (validateBlock) would say is wrong with it."""
    spec = _mapping(obj.get("spec"))
    if _deleted(spec):
        return None
    resource = Resource(_text(obj.get("apiVersion")), "IPAMBlock", name_of(obj))
    network = parse_cidr(spec.get("cidr"))
    if network is None:
        raise ObjectError(f"{resource}: spec.cidr {spec.get('cidr')!r} is not a CIDR")
    allocations = spec.get("allocations")
    allocations = allocations if isinstance(allocations, list) else []
    attributes = spec.get("attributes")
    attributes = attributes if isinstance(attributes, list) else []
    unallocated = spec.get("unallocated")
    unallocated = unallocated if isinstance(unallocated, list) else []
    affinity = _text(spec.get("affinity"))
    found = Block(
        resource,
        source,
        network,
        _intern(affinity),
        _text(spec.get("affinityClaimTime")),
        unallocated=len(unallocated),
    )
    found.problems.extend(_problems(network.num_addresses, allocations, attributes, unallocated))
    count = len(attributes)
    found.allocations = [
        _allocation(ordinal, attributes[index])
        for ordinal, index in enumerate(allocations)
        if type(index) is int and 0 <= index < count and type(attributes[index]) is dict
    ]
    return found


def _allocation(ordinal: int, attribute: dict[str, Any]) -> Allocation:
    """The hot loop of reading (555,000 calls at 5,000 nodes): exact type tests, no helper calls; JSON
    and YAML decoders make plain dicts and strs."""
    secondary = attribute.get("secondary")
    get = secondary.get if type(secondary) is dict else {}.get
    handle, namespace, pod = attribute.get("handle_id"), get("namespace"), get("pod")
    node, kind, stamp, released = get("node"), get("type"), get("timestamp"), attribute.get("releasedAt")
    return Allocation(
        ordinal,
        handle if type(handle) is str else "",
        _intern(namespace) if type(namespace) is str else "",
        pod if type(pod) is str else "",
        _intern(node) if type(node) is str else "",
        _intern(kind) if type(kind) is str else "",
        stamp if type(stamp) is str else "",
        released if type(released) is str else "",
    )


def _problems(size: int, allocations: list[Any], attributes: list[Any], unallocated: list[Any]) -> list[str]:
    """calicoctl/commands/ipam/check.go validateBlock's checks, and the block size they assume."""
    problems: list[str] = []
    if len(allocations) != size:
        problems.append(f"has {len(allocations)} allocation slots for its {size} addresses")
    referenced: set[int] = set()
    allocated = 0
    for ordinal, index in enumerate(allocations):
        if index is None:
            continue
        allocated += 1
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(attributes):
            problems.append(f"ordinal {ordinal} points to attribute {index!r}, which does not exist")
        else:
            referenced.add(index)
    unreferenced = [i for i in range(len(attributes)) if i not in referenced]
    if unreferenced:
        problems.append(
            f"attribute(s) {', '.join(map(str, unreferenced[:5]))} are referenced by no allocation"
        )
    seen: set[Any] = set()
    for ordinal in unallocated:
        if not isinstance(ordinal, int) or isinstance(ordinal, bool) or not 0 <= ordinal < size:
            problems.append(f"unallocated lists ordinal {ordinal!r}, outside the block")
        elif ordinal in seen:
            problems.append(f"unallocated lists ordinal {ordinal} twice")
        elif ordinal < len(allocations) and allocations[ordinal] is not None:
            problems.append(f"ordinal {ordinal} is both allocated and in unallocated")
        seen.add(ordinal)
    if allocated + len(unallocated) != size:
        problems.append(
            f"{allocated} allocated and {len(unallocated)} unallocated ordinals do not add up "
            f"to its {size} addresses"
        )
    return problems


def affinity(obj: Mapping[str, Any], source: Source) -> Affinity | None:
    spec = _mapping(obj.get("spec"))
    if _deleted(spec):
        return None
    resource = Resource(_text(obj.get("apiVersion")), "BlockAffinity", name_of(obj))
    return Affinity(
        resource,
        source,
        _intern(_text(spec.get("node"))),
        _text(spec.get("cidr")),
        _text(spec.get("state")),
        _text(spec.get("type")) or "host",
    )


def handle(obj: Mapping[str, Any], file: str, line: int) -> Handle | None:
    """A handle, cheaply: 555,000 of them are read at 5,000 nodes, and only orphans are ever shown."""
    spec = obj.get("spec")
    spec = spec if type(spec) is dict else {}
    if _deleted(spec):
        return None
    metadata = obj.get("metadata")
    name = metadata.get("name") if type(metadata) is dict else None
    name = name if type(name) is str else ""
    handle_id = spec.get("handleID")
    blocks = spec.get("block")
    return Handle(
        _text(obj.get("apiVersion")),
        name,
        file,
        line,
        handle_id if type(handle_id) is str and handle_id else name,
        blocks if type(blocks) is dict else {},
    )


def pod(obj: Mapping[str, Any], source: Source) -> Pod:
    """A full Pod or its PartialObjectMetadata (then `status_ips` is None: not known). Addresses are
    kept in canonical text, so that `fd00::0:5` and `fd00::5` compare equal."""
    metadata = _mapping(obj.get("metadata"))
    annotations = _mapping(metadata.get("annotations"))
    status = obj.get("status")
    status_ips: tuple[str, ...] | None = None
    if isinstance(status, Mapping):
        entries = status.get("podIPs")
        listed = [_text(_mapping(e).get("ip")) for e in entries] if isinstance(entries, list) else []
        single = _text(status.get("podIP"))
        status_ips = tuple(_bare(ip) for ip in listed if ip) or ((_bare(single),) if single else ())
    status_map = _mapping(status)
    return Pod(
        _intern(_text(metadata.get("namespace"))),
        _text(metadata.get("name")),
        source,
        _intern(_text(_mapping(obj.get("spec")).get("nodeName"))),
        _text(status_map.get("phase")),
        _text(status_map.get("reason")),
        status_ips,
        annotation_ips(annotations),
        _network_ips(annotations.get(NETWORK_STATUS_ANNOTATION)),
    )


def annotation_ips(annotations: Mapping[str, Any]) -> tuple[str, ...]:
    """Calico's record of a pod's addresses (`cni.projectcalico.org/podIPs`, else `podIP`), bare IPs."""
    text = _text(annotations.get(POD_IPS_ANNOTATION)) or _text(annotations.get(POD_IP_ANNOTATION))
    return tuple(_bare(part) for part in text.split(",") if part.strip())


def _network_ips(text: Any) -> tuple[str, ...]:
    if not isinstance(text, str) or not text:
        return ()
    try:
        networks = json.loads(text)
    except ValueError:
        return ()
    found: list[str] = []
    for network in networks if isinstance(networks, list) else []:
        ips = _mapping(network).get("ips")
        found.extend(_bare(ip) for ip in ips if isinstance(ip, str)) if isinstance(ips, list) else None
    return tuple(found)


def _bare(text: str) -> str:
    """An address as text in canonical form ("10.0.0.1/32" and "10.0.0.1" alike)."""
    address = text.strip().split("/", 1)[0]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address
