"""Calico IPAM objects shaped as `kubectl get -o json` prints them, and a small cluster with planted facts.

Builders make IPAMBlocks, BlockAffinities, IPAMHandles, Pods and Nodes in either Calico API group; a
block is given as {ordinal: Owner} and gets its `unallocated` list and attributes as Calico writes them.
`planted(now)` is a three-rack cluster in which every fact the audit should see is put on purpose (see
PLANTED); everything else in it is consistent, so any other finding is a false alarm.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

V1 = "crd.projectcalico.org/v1"
V3 = "projectcalico.org/v3"


def go_time(when: datetime) -> str:
    """What the CNI writes in the `timestamp` attribute: Go's time.Time.String() in UTC."""
    return when.strftime("%Y-%m-%d %H:%M:%S.%f") + "123 +0000 UTC"


def cidr_name(cidr: str) -> str:
    return cidr.replace(".", "-").replace(":", "-").replace("/", "-")


@dataclass(frozen=True)
class Owner:
    handle: str
    node: str
    namespace: str = ""
    pod: str = ""
    type: str = ""
    timestamp: str = ""


def pod_owner(namespace: str, pod: str, node: str, when: datetime, handle: str = "") -> Owner:
    return Owner(handle or f"k8s-pod-network.{namespace}.{pod}", node, namespace, pod, "", go_time(when))


def tunnel_owner(kind: str, node: str, when: datetime) -> Owner:
    prefix = {
        "vxlanV6TunnelAddress": "vxlan-v6-tunnel-addr",
        "wireguardV6TunnelAddress": "wireguard-v6-tunnel-addr",
        "ipipTunnelAddress": "ipip-tunnel-addr",
        "vxlanTunnelAddress": "vxlan-tunnel-addr",
    }[kind]
    return Owner(f"{prefix}-{node}", node, type=kind, timestamp=go_time(when))


def block(
    cidr: str,
    owners: dict[int, Owner],
    node: str | None = None,
    api_version: str = V1,
    claimed: datetime | None = None,
) -> dict[str, Any]:
    size = ipaddress.ip_network(cidr).num_addresses
    attributes: list[dict[str, Any]] = []
    allocations: list[int | None] = [None] * size
    for ordinal, owner in sorted(owners.items()):
        allocations[ordinal] = len(attributes)
        secondary = {
            k: v
            for k, v in (
                ("namespace", owner.namespace),
                ("pod", owner.pod),
                ("node", owner.node),
                ("type", owner.type),
                ("timestamp", owner.timestamp),
            )
            if v
        }
        attributes.append({"handle_id": owner.handle, "secondary": secondary})
    spec: dict[str, Any] = {
        "cidr": cidr,
        "allocations": allocations,
        "attributes": attributes,
        "unallocated": [o for o in range(size) if o not in owners],
        "strictAffinity": False,
        "sequenceNumber": 1,
    }
    if node is not None:
        spec["affinity"] = f"host:{node}"
    if claimed is not None:
        spec["affinityClaimTime"] = claimed.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": api_version,
        "kind": "IPAMBlock",
        "metadata": {"name": cidr_name(cidr)},
        "spec": spec,
    }


def affinity(node: str, cidr: str, state: str = "confirmed", api_version: str = V1) -> dict[str, Any]:
    deleted: Any = "false" if api_version == V1 else False
    return {
        "apiVersion": api_version,
        "kind": "BlockAffinity",
        "metadata": {"name": f"{node}-{cidr_name(cidr)}"},
        "spec": {"node": node, "cidr": cidr, "state": state, "type": "host", "deleted": deleted},
    }


def handle(handle_id: str, blocks: dict[str, int], api_version: str = V1) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": "IPAMHandle",
        "metadata": {"name": handle_id.lower()},
        "spec": {"handleID": handle_id, "block": blocks, "deleted": False},
    }


def pod(
    namespace: str,
    name: str,
    node: str,
    ips: list[str],
    calico_ips: list[str] | None = None,
    phase: str = "Running",
) -> dict[str, Any]:
    calico = calico_ips if calico_ips is not None else ips
    annotations = {
        "cni.projectcalico.org/podIPs": ",".join(f"{ip}/{128 if ':' in ip else 32}" for ip in calico),
        "cni.projectcalico.org/containerID": "0" * 64,
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
        "spec": {"nodeName": node},
        "status": {"phase": phase, "podIP": ips[0] if ips else "", "podIPs": [{"ip": ip} for ip in ips]},
    }


def node(name: str, labels: dict[str, str], pods: int = 110) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
        "status": {"allocatable": {"pods": str(pods)}},
    }


def ippool(name: str, cidr: str, selector: str, block_size: int, api_version: str = V1) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": "IPPool",
        "metadata": {"name": name},
        "spec": {"cidr": cidr, "blockSize": block_size, "nodeSelector": selector, "vxlanMode": "Always"},
    }


def ipam_config(max_blocks: int, api_version: str = V1) -> dict[str, Any]:
    kind = "IPAMConfig" if api_version == V1 else "IPAMConfiguration"
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "default"},
        "spec": {"strictAffinity": True, "maxBlocksPerHost": max_blocks, "autoAllocateBlocks": True},
    }


def as_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def write(path: Path, items: list[dict[str, Any]], fmt: str = "json") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = as_list(items)
    path.write_text(
        json.dumps(doc, indent=4) if fmt == "json" else yaml.safe_dump(doc, sort_keys=True), encoding="utf-8"
    )
    return path


# What planted() puts in, and what the audit must say about it.
PLANTED = {
    "leak past grace": ("address-leaked", "10.0.1.5"),
    "IPv6 tunnel of a deleted node": ("address-leaked", "fd00:10::40"),
    "orphaned handle": ("handle-orphaned", "k8s-pod-network.orphan"),
    "missing handle": ("handle-missing", "k8s-pod-network.nohandle"),
    "stale affinity": ("affinity-stale", "n-gone-fd00-10--40-122"),
    "pool with no free block": ("pool-blocks-low", "rack-0-ippool"),
    "node at its block limit": ("node-headroom", "n0"),
    "borrowing across racks": ("borrowing-cross-topology", "n2"),
    "dual-stack mismatch": ("dual-stack-mismatch", "default/dual"),
}
LEAK_WITHIN_GRACE = "10.0.1.6"


def planted(now: datetime, api_version: str = V1) -> dict[str, list[dict[str, Any]]]:
    """Objects by kind: rack-0 (10.0.0.0/25, 2 blocks) on n0, rack-1 (10.0.1.0/24) on n1 and n2, an IPv6
    pool for rack 1, maxBlocksPerHost 2. See PLANTED."""
    old, recent = now - timedelta(hours=2), now - timedelta(minutes=5)
    pods: list[dict[str, Any]] = []
    owners_a: dict[int, Owner] = {0: tunnel_owner("vxlanTunnelAddress", "n0", old)}
    owners_b: dict[int, Owner] = {}
    for i in range(126):  # n0 fills both rack-0 blocks but one address, which n2 borrowed
        ordinal = i + 1
        target, index = (owners_a, ordinal) if ordinal < 63 else (owners_b, ordinal - 63)
        target[index] = pod_owner("apps", f"web-{i}", "n0", old)
        pods.append(pod("apps", f"web-{i}", "n0", [f"10.0.0.{ordinal if ordinal < 63 else ordinal + 1}"]))
    owners_a[63] = pod_owner("apps", "borrower", "n2", old)
    pods.append(pod("apps", "borrower", "n2", ["10.0.0.63"]))
    owners_n1 = {
        0: tunnel_owner("vxlanTunnelAddress", "n1", old),
        1: pod_owner("default", "dual", "n1", old),
        2: pod_owner("default", "nohandle", "n1", old, handle="k8s-pod-network.nohandle"),
        5: pod_owner("default", "gone-old", "n1", old),
        6: pod_owner("default", "gone-new", "n1", recent),
    }
    pods.append(pod("default", "dual", "n1", ["10.0.1.1"], ["10.0.1.1", "fd00:10::1"]))
    pods.append(pod("default", "nohandle", "n1", ["10.0.1.2"]))
    owners_n1_v6 = {
        0: tunnel_owner("vxlanV6TunnelAddress", "n1", old),
        1: pod_owner("default", "dual", "n1", old),
    }
    owners_gone_v6 = {0: tunnel_owner("wireguardV6TunnelAddress", "n-gone", old)}
    owners_n2 = {0: tunnel_owner("vxlanTunnelAddress", "n2", old)}
    blocks = [
        block("10.0.0.0/26", owners_a, "n0", api_version, old),
        block("10.0.0.64/26", owners_b, "n0", api_version, old),
        block("10.0.1.0/26", owners_n1, "n1", api_version, old),
        block("10.0.1.64/26", owners_n2, "n2", api_version, recent),
        block("fd00:10::/122", owners_n1_v6, "n1", api_version, old),
        block("fd00:10::40/122", owners_gone_v6, "n-gone", api_version, old),
    ]
    counts: dict[str, dict[str, int]] = {}
    for b in blocks:
        for attribute in b["spec"]["attributes"]:
            counts.setdefault(attribute["handle_id"], {}).setdefault(b["spec"]["cidr"], 0)
            counts[attribute["handle_id"]][b["spec"]["cidr"]] += 1
    counts.pop("k8s-pod-network.nohandle")
    handles = [handle(h, c, api_version) for h, c in sorted(counts.items())]
    handles.append(handle("k8s-pod-network.orphan", {"10.0.1.0/26": 1}, api_version))
    affinities = [
        affinity(b["spec"]["affinity"][5:], b["spec"]["cidr"], api_version=api_version) for b in blocks
    ]
    return {
        "pools": [
            ippool("rack-0-ippool", "10.0.0.0/25", 'rack == "0"', 26, api_version),
            ippool("rack-1-ippool", "10.0.1.0/24", 'rack == "1"', 26, api_version),
            ippool("rack-1-ipv6-ippool", "fd00:10::/120", 'rack == "1"', 122, api_version),
            ipam_config(2, api_version),
        ],
        "nodes": [node("n0", {"rack": "0"}, pods=200), node("n1", {"rack": "1"}), node("n2", {"rack": "1"})],
        "blocks": blocks,
        "affinities": affinities,
        "handles": handles,
        "pods": pods,
    }


def write_planted(folder: Path, now: datetime, api_version: str = V1, fmt: str = "json") -> Path:
    suffix = "json" if fmt == "json" else "yaml"
    for kind, items in planted(now, api_version).items():
        write(folder / f"{kind}.{suffix}", items, fmt)
    return folder
