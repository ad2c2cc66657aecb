"""The audit's model of Calico IPAM: blocks, affinities, handles, pods, plus the lint model's pools and nodes.

Field meanings follow libcalico-go (`lib/apis/internalapi/ipam_block.go`, `lib/backend/model/block.go`,
`block_affinity.go`, `ipam_handle.go`); readers turn both `crd.projectcalico.org/v1` and
`projectcalico.org/v3`
shapes into these. A block keeps only what the audit needs, in slotted objects: 10,000 blocks of 64
addresses are 555,000 allocations, and a dict per allocation would cost gigabytes.

Pools, reservations, nodes and the IPAM configuration are the lint model's (`validator.model`), so rules and
front ends share one vocabulary.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..model import Finding, IPAMSettings, IPNet, Node, Pool, Reservation, Resource, Source

TUNNEL_TYPES = frozenset(
    {
        "ipipTunnelAddress",
        "vxlanTunnelAddress",
        "vxlanV6TunnelAddress",
        "wireguardTunnelAddress",
        "wireguardV6TunnelAddress",
    }
)
WINDOWS_HANDLE = "windows-reserved-ipam-handle"  # lib/ipam/ipam_block.go: never a leak
KUBEVIRT_HANDLE = "k8s-pod-network.vmi."  # a VM's persistent address (lib/ipam/vmipam), kept across pods


class Allocation:
    """One allocated ordinal of a block and the attributes Calico stored with it (`attributes[i]`)."""

    __slots__ = ("ordinal", "handle", "namespace", "pod", "node", "type", "timestamp", "released_at")

    def __init__(
        self,
        ordinal: int,
        handle: str,
        namespace: str = "",
        pod: str = "",
        node: str = "",
        type: str = "",
        timestamp: str = "",
        released_at: str = "",
    ) -> None:  # noqa: A002
        self.ordinal = ordinal
        self.handle = handle
        self.namespace = namespace
        self.pod = pod
        self.node = node
        self.type = type
        self.timestamp = timestamp  # as the CNI writes it: Go's time.Time.String() in UTC
        self.released_at = released_at  # set while the address cools down (ipCooldownSeconds, 3.34+)

    @property
    def is_tunnel(self) -> bool:
        return self.type in TUNNEL_TYPES

    @property
    def is_pod(self) -> bool:
        return bool(self.namespace and self.pod)

    @property
    def cooling(self) -> bool:
        return bool(self.released_at) and not self.handle

    def __repr__(self) -> str:
        return (
            f"Allocation({self.ordinal}, {self.handle!r}, pod={self.namespace}/{self.pod}, node={self.node})"
        )


@dataclass(eq=False)
class Block:
    """An IPAMBlock: its CIDR, owner, and the allocated ordinals (free ones are only counted)."""

    resource: Resource
    source: Source
    network: IPNet
    affinity: str = ""  # "host:<node>", "virtual:<name>", or "" (unaffine)
    claim_time: str = ""  # affinityClaimTime (RFC 3339), absent before v3.32
    allocations: list[Allocation] = field(default_factory=list)
    unallocated: int = 0  # len(unallocated)
    problems: list[str] = field(default_factory=list)  # what calicoctl ipam check's validateBlock finds
    host: str = field(init=False, default="")  # the node it is affine to ("" for unaffine and virtual)

    def __post_init__(self) -> None:
        self.host = self.affinity[5:] if self.affinity.startswith("host:") else ""

    @property
    def size(self) -> int:
        return self.network.num_addresses

    @property
    def in_use(self) -> int:
        """calicoctl's IN USE: every ordinal not in `unallocated` (cooling and Windows-reserved included)."""
        return self.size - self.unallocated

    def address(self, ordinal: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return self.network[ordinal]


@dataclass(frozen=True)
class Affinity:
    """A BlockAffinity: node claims block cidr; `pending` counts as absent (Calico PR #6003)."""

    resource: Resource
    source: Source
    node: str
    cidr: str
    state: str = ""  # "", pending, confirmed, pendingDeletion
    type: str = "host"


class Handle:
    """An IPAMHandle: its ID and how many addresses it holds per block CIDR (`spec.block`, as read).

    Slotted and built from plain values: a 5,000-node cluster has 555,000 of them, read one at a time,
    and only the orphans ever become findings, so their Resource and Source are made on demand."""

    __slots__ = ("api_version", "name", "file", "line", "handle_id", "blocks")

    def __init__(
        self, api_version: str, name: str, file: str, line: int, handle_id: str, blocks: Mapping[str, Any]
    ) -> None:
        self.api_version, self.name, self.file, self.line = api_version, name, file, line
        self.handle_id, self.blocks = handle_id, blocks

    @property
    def resource(self) -> Resource:
        return Resource(self.api_version, "IPAMHandle", self.name)

    @property
    def source(self) -> Source:
        return Source(self.file, self.line)

    def __repr__(self) -> str:
        return f"Handle({self.handle_id!r})"


@dataclass(frozen=True)
class Pod:
    """What the audit needs of a pod: where it runs and which addresses it has.

    `status_ips` is None when the pod was read as metadata only (no status): then Calico's own record,
    the `cni.projectcalico.org/podIPs` annotation, is the source of its addresses.
    """

    namespace: str
    name: str
    source: Source
    node: str = ""
    phase: str = ""
    reason: str = ""
    status_ips: tuple[str, ...] | None = None
    annotation_ips: tuple[str, ...] = ()
    network_ips: tuple[str, ...] = ()  # Multus networks (k8s.v1.cni.cncf.io/network-status)

    @property
    def resource(self) -> Resource:
        return Resource("v1", "Pod", f"{self.namespace}/{self.name}")


@dataclass
class AuditState:
    """Everything one audit reads. `handles` is iterated once, after the blocks are indexed, so that a
    reader can stream them (555,000 handles need not be in memory at once); None means none were read."""

    pools: list[Pool] = field(default_factory=list)
    reservations: list[Reservation] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    ipam: IPAMSettings | None = None
    blocks: list[Block] = field(default_factory=list)
    affinities: list[Affinity] = field(default_factory=list)
    handles: Iterable[Handle] | None = None
    pods: dict[tuple[str, str], Pod] | None = None  # None: pods were not read, so leak checks cannot run
    nodes_known: bool = False
    pod_status: bool = False  # pods were read whole (with status.podIPs), not as metadata only
    taken_at: datetime | None = None  # when the state was read (a dump's own time, if it says)
    problems: list[Finding] = field(default_factory=list)  # input errors, located (rule yaml-invalid)
    origin: str = ""  # "dump" or "cluster:<context>"
    calico_groups: dict[str, str] = field(default_factory=dict)  # resource -> "group/version" read

    def iter_handles(self) -> Iterator[Handle]:
        return iter(self.handles) if self.handles is not None else iter(())


@dataclass(frozen=True)
class AuditPolicy:
    """The knobs the audit applies; the policy file's `audit` keys fill them (defaults are Calico's)."""

    leak_grace: timedelta = timedelta(minutes=15)  # KubeControllersConfiguration node.leakGracePeriod
    pool_free_blocks_threshold: int = 80  # percent of a pool's blocks allocated that warns
    rule_levels: dict[str, str] = field(default_factory=dict)
    max_pods: int = 110


def parse_duration(text: str) -> timedelta:
    """A Go duration of hours, minutes and seconds ("15m", "1h30m", "90s"), as the policy schema allows."""
    import re

    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration like 15m or 1h30m")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def policy_from(config: object) -> AuditPolicy:
    """The audit's policy from a lint `Config` (its rule levels, max-pods and `audit` section)."""
    section = dict(getattr(config, "audit", {}) or {})
    grace = section.get("leak-grace-period")
    return AuditPolicy(
        leak_grace=parse_duration(grace) if isinstance(grace, str) else timedelta(minutes=15),
        pool_free_blocks_threshold=int(section.get("pool-free-blocks-threshold", 80)),
        rule_levels=dict(getattr(config, "rule_levels", {}) or {}),
        max_pods=int(getattr(config, "max_pods", 110)),
    )
