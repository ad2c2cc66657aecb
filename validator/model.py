"""The model the rules see: pools, nodes, reservations and IPAM settings, each with where it came from.

Only `validator.sources` knows manifest shapes (v3, v1, operator Installation, Node lists); it turns every
form into these plain objects. A pool's `spec` is always in the `projectcalico.org/v3` field vocabulary,
raw as written, so that rules can both read its meaning (the cached properties below, which are tolerant
of wrong types) and report exactly what the user wrote.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from .addresses import IPAddr, IPNet, parse_address, parse_network
from .selector import Selector, SelectorError, parse_selector

V3 = "projectcalico.org/v3"
V1 = "crd.projectcalico.org/v1"
OPERATOR = "operator.tigera.io/v1"
CALICO_API_VERSIONS = (V3, V1)

IPAddress = IPAddr
Family = Literal[4, 6]
DEFAULT_BLOCK_SIZE: dict[int, int] = {4: 26, 6: 122}
BLOCK_SIZE_RANGE: dict[int, tuple[int, int]] = {4: (20, 32), 6: (116, 128)}
DEFAULT_ALLOWED_USES = ("Workload", "Tunnel")
DEFAULT_MAX_BLOCKS_PER_HOST = 20
# kube-apiserver's MaxRequestBodyBytes, the largest write it accepts: the webhook's default body limit
DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024
IGNORE_ANNOTATION = "ippool-validator.io/ignore"
IGNORE_REASON_ANNOTATION = "ippool-validator.io/ignore-reason"


@dataclass(frozen=True, slots=True, order=True)
class Source:
    """Where an object (or a problem) stands: a file (or `<stdin>`) and a 1-based line."""

    file: str
    line: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Resource:
    """What Kubernetes calls the object: apiVersion, kind and name (cluster-scoped, so no namespace)."""

    api_version: str
    kind: str
    name: str
    entry: str = field(default="", compare=False)  # where a derived object is written (an Installation entry)

    def __str__(self) -> str:
        text = f"{self.kind}/{self.name or '(unnamed)'}"
        return f"{text} from {self.entry}" if self.entry else text


def family_name(version: int) -> str:
    return "IPv6" if version == 6 else "IPv4"


@dataclass(frozen=True)
class CidrText:
    """How Calico's parsers read a CIDR as written: one reading serves every rule and the policy check that
    diagnoses CIDRs (each says in its own words what is wrong)."""

    shape: Literal["network", "host-bits", "address", "invalid"]
    network: IPNet | None = None  # for "network", and the masked network for "host-bits"
    address: IPAddress | None = None  # for "address": a bare address, with no prefix length

    @property
    def network_masked(self) -> IPNet | None:
        """The network with any host bits cleared, as clientv3 normalizes it; None if it is not one."""
        return self.network if self.shape in ("network", "host-bits") else None


def read_cidr(text: str) -> CidrText:
    """`10.0.0.0/16` is a network, `10.0.1.0/16` has host bits, `10.0.0.1` is an address, the rest invalid,
    as Go's net.ParseCIDR reads them (addresses.parse_network: an IPv6 zone or a netmask is invalid)."""
    if "/" not in text:
        try:
            return CidrText("address", address=parse_address(text))
        except ValueError:
            return CidrText("invalid")
    try:
        return CidrText("network", parse_network(text, strict=True))
    except ValueError:
        pass
    try:
        return CidrText("host-bits", parse_network(text, strict=False))
    except ValueError:
        return CidrText("invalid")


def parse_cidr(text: Any) -> IPNet | None:
    """A CIDR as Calico accepts it: address/prefix text, strictly masked; anything else is None."""
    if not isinstance(text, str):
        return None
    reading = read_cidr(text)
    return reading.network if reading.shape == "network" else None


@dataclass(frozen=True)
class OperatorSettings:
    """What the operator's Installation says around its pools, with the operator's own defaults applied
    (tigera/operator pkg/controller/installation/core_controller.go `fillDefaults`): the CNI plugin
    defaults by `kubernetesProvider` (AKS AzureVNET, EKS AmazonVPC, GKE GKE, else Calico), the IPAM
    plugin by the CNI plugin (Calico for Calico CNI)."""

    installation: Resource
    cni_type: str = "Calico"
    ipam_type: str = "Calico"


@dataclass(frozen=True)
class Pool:
    """One IP pool, from a v3 or v1 IPPool or an operator Installation entry.

    `spec` uses v3 field names whatever the origin; for an operator entry, `sources` has already mapped
    `encapsulation` and `natOutgoing` onto them and keeps the entry as written in `raw`.
    """

    resource: Resource
    source: Source
    spec: Mapping[str, Any] = field(compare=False)
    origin: Literal["v3", "v1", "operator"] = "v3"
    annotations: Mapping[str, str] = field(default_factory=dict, compare=False)
    status_conditions: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)
    operator: OperatorSettings | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.resource.name

    @property
    def automatic(self) -> bool:
        """IPAM picks the pool by its selectors (assignmentMode Automatic, the default); Manual pools are
        only used when a pod or namespace names them."""
        return self.spec.get("assignmentMode") != "Manual"

    @property
    def namespace_selector(self) -> str:
        value = self.spec.get("namespaceSelector")
        return value if isinstance(value, str) else ""

    @property
    def unallocatable(self) -> Mapping[str, Any] | None:
        """The status condition `Allocatable=False`, if the cluster has set one (IPAM skips such pools)."""
        for condition in self.status_conditions:
            if condition.get("type") == "Allocatable" and condition.get("status") == "False":
                return condition
        return None

    @cached_property
    def cidr_reading(self) -> CidrText | None:
        """`spec.cidr` as `read_cidr` reads it (once per pool: several rules ask); None if not text."""
        text = self.spec.get("cidr")
        return read_cidr(text) if isinstance(text, str) else None

    @property
    def network(self) -> IPNet | None:
        reading = self.cidr_reading
        return reading.network if reading is not None and reading.shape == "network" else None

    @property
    def cidr_text(self) -> str:
        cidr = self.spec.get("cidr")
        return cidr if isinstance(cidr, str) else repr(cidr)

    @property
    def masked_network(self) -> IPNet | None:
        """The network with host bits cleared: `network` when the CIDR is valid, and for `10.244.102.1/24`
        (which Calico rejects, see cidr-invalid) still an IPv4 /24, so that its family, prefix and range
        can be judged and one mistake does not hide the others."""
        reading = self.cidr_reading
        return reading.network_masked if reading is not None else None

    @property
    def version(self) -> int | None:
        """The IP family, also of a CIDR that only has host bits set (see masked_network)."""
        net = self.masked_network
        return net.version if net is not None else None

    @cached_property
    def block_size(self) -> int | None:
        """The block size in force: absent or 0 means the family default; None if unusable."""
        raw = self.spec.get("blockSize")
        if self.version is None:
            return None
        if raw is None or raw == 0:
            return DEFAULT_BLOCK_SIZE[self.version]
        if isinstance(raw, bool) or not isinstance(raw, int):
            return None
        low, high = BLOCK_SIZE_RANGE[self.version]
        return raw if low <= raw <= high else None

    @property
    def disabled(self) -> bool:
        return self.spec.get("disabled") is True

    @property
    def node_selector(self) -> str:
        value = self.spec.get("nodeSelector")
        return value if isinstance(value, str) else ""

    @cached_property
    def parsed_node_selector(self) -> Selector | None:
        """The nodeSelector parsed once per pool (None when it does not parse): every rule asks for it, and
        a bounded text cache alone thrashes when a repository has more distinct selectors than it holds."""
        try:
            return parse_selector(self.node_selector)
        except SelectorError:
            return None

    @cached_property
    def allowed_uses(self) -> frozenset[str]:
        uses = self.spec.get("allowedUses")
        if not uses:
            return frozenset(DEFAULT_ALLOWED_USES)
        if not isinstance(uses, list):
            return frozenset()
        return frozenset(u for u in uses if isinstance(u, str))

    @property
    def assigns_automatically(self) -> bool:
        """True for a pool IPAM may pick pod addresses from by its nodeSelector, whatever its CIDR.

        Calico's `determinePools` (libcalico-go/lib/ipam/ipam.go) starts from the enabled pools
        (`GetEnabledPools`: not `disabled`, not marked Allocatable=False), skips pools whose
        `assignmentMode` is not Automatic unless the pod names pools itself, then matches nodeSelector and
        namespaceSelector; `filterPoolsByUse` then keeps the pools whose allowedUses include Workload.
        """
        return (not self.disabled and "Workload" in self.allowed_uses and self.automatic
                and self.unallocatable is None)

    @property
    def selects_no_node(self) -> bool:
        """nodeSelector `!all()` (however written: `!(all())`, `! all()`): no node can match, so IPAM never
        picks the pool by itself; manual and egress-gateway pools are written so and named by pods or
        namespaces (`cni.projectcalico.org/ipv4pools`) instead."""
        selector = self.parsed_node_selector
        return selector is not None and selector.canonical == "!all()"

    @property
    def serves_workloads(self) -> bool:
        """assigns_automatically, and with a valid CIDR: the pools node rules count as serving nodes."""
        return self.network is not None and self.assigns_automatically

    @property
    def block_count(self) -> int:
        """How many blocks the pool is carved into (0 if the CIDR or block size is unusable)."""
        if self.network is None or self.block_size is None or self.block_size < self.network.prefixlen:
            return 0
        return 1 << (self.block_size - self.network.prefixlen)

    @property
    def block_addresses(self) -> int:
        if self.network is None or self.block_size is None:
            return 0
        return 1 << (self.network.max_prefixlen - self.block_size)

    def describe(self) -> str:
        return f"{self.resource} ({self.cidr_text})"


@dataclass(frozen=True)
class Node:
    """A Kubernetes node: its labels decide which pools serve it; `max_pods` is from its status, if known."""

    resource: Resource
    source: Source
    labels: Mapping[str, str] = field(compare=False)
    annotations: Mapping[str, str] = field(default_factory=dict, compare=False)
    max_pods: int | None = None

    @property
    def name(self) -> str:
        return self.resource.name


@dataclass(frozen=True)
class Reservation:
    """An IPReservation: `cidrs` as written; `networks` the ones that parse (a bare IP counts as /32 or
    /128)."""

    resource: Resource
    source: Source
    cidrs: tuple[Any, ...] = field(compare=False)  # as written, maybe unhashable: identity is resource+source
    annotations: Mapping[str, str] = field(default_factory=dict, compare=False)

    @cached_property
    def networks(self) -> tuple[IPNet, ...]:
        found: list[IPNet] = []
        for text in self.cidrs:
            if not isinstance(text, str):
                continue
            try:
                found.append(parse_network(text, strict=False) if "/" in text else
                             ipaddress.ip_network(parse_address(text)))
            except ValueError:
                continue
        return tuple(found)


@dataclass(frozen=True)
class IPAMSettings:
    """The cluster's IPAMConfiguration (name `default`); absent fields keep Calico's defaults."""

    resource: Resource
    source: Source
    max_blocks_per_host: int = DEFAULT_MAX_BLOCKS_PER_HOST
    strict_affinity: bool = False
    spec: Mapping[str, Any] = field(default_factory=dict, compare=False)
    annotations: Mapping[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Manifest:
    """One object as read (a document, or an item of a List), kept for schema checks and exemptions."""

    resource: Resource
    source: Source
    body: Mapping[str, Any] = field(compare=False)
    schema: str = ""  # name of the JSON Schema under policies/schemas that applies, "" for none
    item_path: tuple[str | int, ...] = ()  # where in the document this object sits (for List items)
    node: Any = field(default=None, compare=False, repr=False)  # its YAML node, to locate a field's line

    def line_of(self, path: tuple[str | int, ...]) -> int:
        """The line of the field at `path` inside this object (the object's own line if not found)."""
        node, line = self.node, self.source.line
        for step in path:
            if node is None:
                break
            node = _child(node, step)
            if node is not None:
                line = node.start_mark.line + 1
        return line


def _child(node: Any, step: str | int) -> Any:
    value = getattr(node, "value", None)
    if isinstance(step, int):
        return value[step] if isinstance(value, list) and 0 <= step < len(value) and not (
            value and isinstance(value[0], tuple)) else None
    if isinstance(value, list):
        for item in value:
            if isinstance(item, tuple) and getattr(item[0], "value", None) == step:
                return item[1]
    return None


Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Related:
    """Another object a finding involves (the other pool of an overlap), with where it stands."""

    resource: Resource
    source: Source


@dataclass(frozen=True)
class Finding:
    """One problem: data only. `subject` tells apart two findings of one rule on one object."""

    rule: str
    severity: Severity
    message: str
    resource: Resource | None = None
    source: Source | None = None
    hint: str = ""
    related: tuple[Related, ...] = ()
    subject: str = ""

    def sort_key(self) -> tuple[str, int, str, str]:
        src = self.source or Source("", 0)
        return (src.file, src.line, self.rule, self.message)

    def with_severity(self, severity: Severity) -> Finding:
        return Finding(self.rule, severity, self.message, self.resource, self.source, self.hint,
                       self.related, self.subject)


class FindingCounts:
    """The error and warning counts of a result that holds `findings` (lint's, the audit's, a report's)."""

    findings: list[Finding]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")


@dataclass(frozen=True)
class Skipped:
    """A file not linted on purpose (a Helm template, YAML that is not ours and does not parse), and why."""

    file: str
    reason: str


@dataclass
class Cluster:
    """Everything known at once: what the linter read from a repository, or the webhook's cluster state."""

    pools: list[Pool] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    reservations: list[Reservation] = field(default_factory=list)
    ipam: list[IPAMSettings] = field(default_factory=list)
    manifests: list[Manifest] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)  # input errors found while reading
    nodes_known: bool = False
    files: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def extend(self, other: Cluster) -> None:
        self.pools.extend(other.pools)
        self.nodes.extend(other.nodes)
        self.reservations.extend(other.reservations)
        self.ipam.extend(other.ipam)
        self.manifests.extend(other.manifests)
        self.problems.extend(other.problems)
        self.nodes_known = self.nodes_known or other.nodes_known
        self.files += other.files
        self.skipped.extend(other.skipped)

    @property
    def ipam_settings(self) -> IPAMSettings | None:
        """The one IPAMConfiguration that IPAM reads: the one named `default`."""
        for settings in self.ipam:
            if settings.resource.name == "default":
                return settings
        return None
