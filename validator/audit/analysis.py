"""What several audit rules and the summary ask about the same state, worked out once.

Leaks follow kube-controllers' `allocationIsValid` and `checkAllocations`
(kube-controllers/pkg/controllers/node/ipam.go, master 87c15906 and v3.32.1):

- Windows-reserved addresses are never leaks, nor are KubeVirt VMs' persistent addresses (handle
  `k8s-pod-network.vmi.<ns>.<vm>`, lib/ipam/vmipam): they outlive the virt-launcher pod by design, and
  whether the VM still exists is not read here; allocations that are neither a pod's nor a tunnel's are
  assumed valid;
- a tunnel address (IPIP, VXLAN, VXLAN v6, WireGuard, WireGuard v6) is valid while its node exists, and
  once it is gone, until no valid address names the node any more (checkAllocations' `canDelete`);
  `calicoctl ipam check` forgets the IPv6 ones, which this does not;
- a pod address is valid unless the pod does not exist, runs on another node, was evicted, or has reported
  its IPs and none of them (nor a Multus network's) is this address; a pod with no IP reported is valid;
- GC releases a handle all or none (kube-controllers#901), so an address whose handle still has a valid
  address is not a leak (the dual-stack mismatch of #5044 is reported by its own rule);
- a leak is confirmed at once when its node is gone, else once it has lasted the grace period
  (`leakGracePeriod`, 15 min by default). One dump cannot see how long an address has been invalid, so
  its age is the allocation's own timestamp: a lower bound on how long it has been held.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property

from .model import KUBEVIRT_HANDLE, WINDOWS_HANDLE, Allocation, AuditPolicy, AuditState, Block, Handle, Pod
from .utilisation import Utilisation


@dataclass(frozen=True)
class Leak:
    block: Block
    allocation: Allocation
    why: str  # pod-gone, pod-moved, pod-evicted, ip-mismatch, tunnel-node-gone
    confirmed: bool
    age: timedelta | None

    @property
    def ip(self) -> str:
        return str(self.block.address(self.allocation.ordinal))


@dataclass
class HandleCheck:
    total: int = 0
    orphaned: list[Handle] = field(default_factory=list)
    missing: dict[str, list[Block]] = field(default_factory=dict)  # handle id -> blocks naming it


def parse_time(text: str) -> datetime | None:
    """RFC 3339 (`affinityClaimTime`) or Go's `time.Time.String()` in UTC, as the CNI writes the
    `timestamp` attribute ("2026-12-01 09:03:46.123456789 +0000 UTC")."""
    if not text:
        return None
    value = text.strip()
    parts = value.split(" ")
    if len(parts) >= 3 and parts[2][:1] in "+-":
        date, clock, offset = parts[0], parts[1], parts[2]
        if "." in clock:
            whole, fraction = clock.split(".", 1)
            clock = f"{whole}.{fraction[:6]}"
        value = f"{date}T{clock}{offset[:3]}:{offset[3:5]}"
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class Analysis:
    """Lazily computed answers about one state; `handles` consumes the state's handle stream once."""

    def __init__(self, state: AuditState, usage: Utilisation, policy: AuditPolicy, now: datetime) -> None:
        self.state = state
        self.usage = usage
        self.policy = policy
        self.now = now

    @cached_property
    def node_names(self) -> frozenset[str]:
        return frozenset(n.name for n in self.state.nodes)

    @cached_property
    def leaks(self) -> list[Leak]:
        """Every invalid allocation whose whole handle is invalid, confirmed or still within grace."""
        if not self.state.nodes_known:
            return []
        invalid: list[tuple[Block, Allocation, str]] = []
        valid_handles: set[str] = set()
        still_used: set[str] = set()  # deleted nodes that some valid address still names
        for block in self.state.blocks:
            for allocation in block.allocations:
                why = self._invalid(block, allocation)
                if why is None:
                    valid_handles.add(allocation.handle)
                    if not allocation.is_tunnel and allocation.node not in self.node_names:
                        still_used.add(allocation.node)
                elif why:
                    invalid.append((block, allocation, why))
        return [self._leak(b, a, why) for b, a, why in invalid if a.handle not in valid_handles
                and not (why == "tunnel-node-gone" and a.node in still_used)]

    def _leak(self, block: Block, allocation: Allocation, why: str) -> Leak:
        stamp = parse_time(allocation.timestamp)
        age = self.now - stamp if stamp is not None else None
        node_gone = bool(allocation.node) and allocation.node not in self.node_names
        confirmed = node_gone or (age is not None and age >= self.policy.leak_grace)
        return Leak(block, allocation, why, confirmed, age)

    def _invalid(self, block: Block, a: Allocation) -> str | None:
        """Why the allocation is invalid; None if valid; "" if it cannot be judged (no pods read)."""
        if a.handle == WINDOWS_HANDLE or a.cooling or a.handle.startswith(KUBEVIRT_HANDLE):
            return None
        if a.is_tunnel:
            return None if a.node in self.node_names else "tunnel-node-gone"
        if not a.is_pod:
            return None
        pods = self.state.pods
        if pods is None:
            return ""
        pod = pods.get((a.namespace, a.pod))
        if pod is None:
            return "pod-gone"
        if pod.node and a.node and pod.node != a.node:
            return "pod-moved"
        if pod.phase == "Failed" and pod.reason == "Evicted":
            return "pod-evicted"
        ips = pod_addresses(pod)
        if not ips:
            return None
        return None if str(block.address(a.ordinal)) in ips else "ip-mismatch"

    @cached_property
    def handles(self) -> HandleCheck | None:
        """Orphaned handles (no address names them) and missing ones (addresses name an absent handle)."""
        if self.state.handles is None:
            return None
        refs: dict[str, Block] = {}  # handle -> the first block naming it
        for block in self.state.blocks:
            for handle_id in {a.handle for a in block.allocations}:
                refs.setdefault(handle_id, block)
        refs.pop("", None)
        check = HandleCheck()
        seen: set[str] = set()
        for handle in self.state.iter_handles():
            check.total += 1
            if handle.handle_id in refs:
                seen.add(handle.handle_id)
            else:
                check.orphaned.append(handle)
        missing = set(refs) - seen
        if missing:
            for block in self.state.blocks:
                for handle_id in {a.handle for a in block.allocations} & missing:
                    check.missing.setdefault(handle_id, []).append(block)
        return check

    @cached_property
    def leak_counts(self) -> dict[str, Counter[str]]:
        counts: dict[str, Counter[str]] = {"confirmed": Counter(), "candidate": Counter()}
        for leak in self.leaks:
            counts["confirmed" if leak.confirmed else "candidate"][leak.why] += 1
        return counts


def pod_addresses(pod: Pod) -> set[str]:
    """The addresses Calico's converter would give the pod's WorkloadEndpoints (conversion.go getPodIPs):
    status.podIPs when the status is known and has any, else the Calico annotations; Multus networks too.
    An empty set means no IP has been reported yet."""
    if pod.status_ips is not None:
        if not pod.status_ips:
            return set()
        found = set(pod.status_ips)
    else:
        found = set(pod.annotation_ips)
    found.update(pod.network_ips)
    return {_canonical(ip) for ip in found}


def _canonical(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text
