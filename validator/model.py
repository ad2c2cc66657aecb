"""The model the rules see: pools, nodes, reservations and IPAM settings, each with where it came from.

Only `validator.sources` knows manifest shapes (v3, v1, operator Installation, Node lists); it turns every
form into these plain objects. A pool's `spec` is always in the `projectcalico.org/v3` field vocabulary,
raw as written, so that rules can both read its meaning (the cached properties below, which are tolerant
of wrong types) and report exactly what the user wrote.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Final, Literal, NamedTuple

from .addresses import IPAddr, IPNet, parse_address, parse_network
from .lazy import cached_property
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


class Source(NamedTuple):
    """Where an object (or a problem) stands: a file (or `<stdin>`) and a 1-based line."""

    file: str
    line: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Resource:
    """What Kubernetes calls the object: apiVersion, kind and name (cluster-scoped, so no namespace).

    Not a tuple: the webhook tells a Resource from the tuple identities it builds. `entry` (where a derived
    object is written: an Installation entry) is not part of what the object is.
    """

    __slots__ = ("api_version", "kind", "name", "entry", "_hash")

    def __init__(self, api_version: str, kind: str, name: str, entry: str = "") -> None:
        self.api_version: Final = api_version
        self.kind: Final = kind
        self.name: Final = name
        self.entry: Final = entry
        self._hash: Final = hash((api_version, kind, name))  # the webhook hashes each many times a request

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resource):
            return NotImplemented
        return (self.api_version, self.kind, self.name) == (other.api_version, other.kind, other.name)

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[Any, ...]:  # rebuilt, never unpickled: str hashes differ per process
        return Resource, (self.api_version, self.kind, self.name, self.entry)

    def __repr__(self) -> str:
        return f"Resource({self.api_version!r}, {self.kind!r}, {self.name!r}, entry={self.entry!r})"

    def __str__(self) -> str:
        text = f"{self.kind}/{self.name or '(unnamed)'}"
        return f"{text} from {self.entry}" if self.entry else text


def family_name(version: int) -> str:
    return "IPv6" if version == 6 else "IPv4"


class CidrText(NamedTuple):
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


class OperatorSettings(NamedTuple):
    """What the operator's Installation says around its pools, with the operator's own defaults applied
    (tigera/operator pkg/controller/installation/core_controller.go `fillDefaults`): the CNI plugin
    defaults by `kubernetesProvider` (AKS AzureVNET, EKS AmazonVPC, GKE GKE, else Calico), the IPAM
    plugin by the CNI plugin (Calico for Calico CNI)."""

    installation: Resource
    cni_type: str = "Calico"
    ipam_type: str = "Calico"


class _Entity:
    """An object of the cluster as read. Two are equal when they are the same object read from the same
    place (`identity`), whatever their content; nothing changes one once read (its attributes are `Final`).

    Hand-written rather than dataclasses: a dataclass costs lint's start-up about 0.3 ms to define.
    """

    def identity(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Entity) or other.__class__ is not self.__class__:
            return NotImplemented
        return self.identity() == other.identity()

    def __hash__(self) -> int:
        return hash(self.identity())

    def __repr__(self) -> str:
        return f"{type(self).__name__}{self.identity()!r}"


class Pool(_Entity):
    """One IP pool, from a v3 or v1 IPPool or an operator Installation entry.

    `spec` uses v3 field names whatever the origin; for an operator entry, `sources` has already mapped
    `encapsulation` and `natOutgoing` onto them and keeps the entry as written in `raw`.
    """

    def __init__(self, resource: Resource, source: Source, spec: Mapping[str, Any],
                 origin: Literal["v3", "v1", "operator"] = "v3", annotations: Mapping[str, str] | None = None,
                 status_conditions: tuple[Mapping[str, Any], ...] = (), raw: Mapping[str, Any] | None = None,
                 operator: OperatorSettings | None = None) -> None:
        self.resource: Final = resource
        self.source: Final = source
        self.spec: Final = spec
        self.origin: Final = origin
        self.annotations: Final[Mapping[str, str]] = {} if annotations is None else annotations
        self.status_conditions: Final = status_conditions
        self.raw: Final[Mapping[str, Any]] = {} if raw is None else raw
        self.operator: Final = operator
        self.name: Final = resource.name  # read by most rules and lookups: an attribute, not a property

    def identity(self) -> tuple[Any, ...]:
        return (self.resource, self.source, self.origin)

    @property
    def automatic(self) -> bool:
        """IPAM picks the pool by its selectors (assignmentMode Automatic, the default); Manual pools are
        only used when a pod or namespace names them."""
        return self.spec.get("assignmentMode") != "Manual"

    @property
    def namespace_selector(self) -> str:
        value = self.spec.get("namespaceSelector")
        return value if isinstance(value, str) else ""

    @cached_property
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

    @cached_property
    def network(self) -> IPNet | None:
        reading = self.cidr_reading
        return reading.network if reading is not None and reading.shape == "network" else None

    @property
    def cidr_text(self) -> str:
        cidr = self.spec.get("cidr")
        return cidr if isinstance(cidr, str) else repr(cidr)

    @cached_property
    def masked_network(self) -> IPNet | None:
        """The network with host bits cleared: `network` when the CIDR is valid, and for `10.244.102.1/24`
        (which Calico rejects, see cidr-invalid) still an IPv4 /24, so that its family, prefix and range
        can be judged and one mistake does not hide the others."""
        reading = self.cidr_reading
        return reading.network_masked if reading is not None else None

    @cached_property
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

    @cached_property
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

    @cached_property
    def serves_workloads(self) -> bool:
        """assigns_automatically, and with a valid CIDR: the pools node rules count as serving nodes."""
        return self.network is not None and self.assigns_automatically

    @cached_property
    def block_count(self) -> int:
        """How many blocks the pool is carved into (0 if the CIDR or block size is unusable)."""
        if self.network is None or self.block_size is None or self.block_size < self.network.prefixlen:
            return 0
        return 1 << (self.block_size - self.network.prefixlen)

    @cached_property
    def block_addresses(self) -> int:
        if self.network is None or self.block_size is None:
            return 0
        return 1 << (self.network.max_prefixlen - self.block_size)

    def describe(self) -> str:
        return f"{self.resource} ({self.cidr_text})"


class Node(_Entity):
    """A Kubernetes node: its labels decide which pools serve it; `max_pods` is from its status, if known."""

    def __init__(self, resource: Resource, source: Source, labels: Mapping[str, str],
                 annotations: Mapping[str, str] | None = None, max_pods: int | None = None) -> None:
        self.resource: Final = resource
        self.source: Final = source
        self.labels: Final = labels
        self.annotations: Final[Mapping[str, str]] = {} if annotations is None else annotations
        self.max_pods: Final = max_pods

    def identity(self) -> tuple[Any, ...]:
        return (self.resource, self.source, self.max_pods)

    @property
    def name(self) -> str:
        return self.resource.name


class Reservation(_Entity):
    """An IPReservation: `cidrs` as written; `networks` the ones that parse (a bare IP counts as /32 or
    /128)."""

    def __init__(self, resource: Resource, source: Source, cidrs: tuple[Any, ...],
                 annotations: Mapping[str, str] | None = None) -> None:
        self.resource: Final = resource
        self.source: Final = source
        self.cidrs: Final = cidrs  # as written, maybe unhashable: identity is resource+source
        self.annotations: Final[Mapping[str, str]] = {} if annotations is None else annotations

    def identity(self) -> tuple[Any, ...]:
        return (self.resource, self.source)

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


class IPAMSettings(_Entity):
    """The cluster's IPAMConfiguration (name `default`); absent fields keep Calico's defaults."""

    def __init__(self, resource: Resource, source: Source,
                 max_blocks_per_host: int = DEFAULT_MAX_BLOCKS_PER_HOST, strict_affinity: bool = False,
                 spec: Mapping[str, Any] | None = None, annotations: Mapping[str, str] | None = None) -> None:
        self.resource: Final = resource
        self.source: Final = source
        self.max_blocks_per_host: Final = max_blocks_per_host
        self.strict_affinity: Final = strict_affinity
        self.spec: Final[Mapping[str, Any]] = {} if spec is None else spec
        self.annotations: Final[Mapping[str, str]] = {} if annotations is None else annotations

    def identity(self) -> tuple[Any, ...]:
        return (self.resource, self.source, self.max_blocks_per_host, self.strict_affinity)


class Manifest(_Entity):
    """One object as read (a document, or an item of a List), kept for schema checks and exemptions.

    `schema` names the JSON Schema under policies/schemas that applies ("" for none), `item_path` is where
    in the document the object sits (for List items), `node` its YAML node, to locate a field's line.
    """

    def __init__(self, resource: Resource, source: Source, body: Mapping[str, Any], schema: str = "",
                 item_path: tuple[str | int, ...] = (), node: Any = None) -> None:
        self.resource: Final = resource
        self.source: Final = source
        self.body: Final = body
        self.schema: Final = schema
        self.item_path: Final = item_path
        self.node: Final = node

    def identity(self) -> tuple[Any, ...]:
        return (self.resource, self.source, self.schema, self.item_path)

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


class Related(NamedTuple):
    """Another object a finding involves (the other pool of an overlap), with where it stands."""

    resource: Resource
    source: Source


class Finding(NamedTuple):
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
        return self._replace(severity=severity)


class FindingCounts:
    """The error and warning counts of a result that holds `findings` (lint's, the audit's, a report's)."""

    findings: list[Finding]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")


class Skipped(NamedTuple):
    """A file not linted on purpose (a Helm template, YAML that is not ours and does not parse), and why."""

    file: str
    reason: str


class Cluster:
    """Everything known at once: what the linter read from a repository, or the webhook's cluster state.

    `problems` are the input errors found while reading; the sources fill the lists as they read.
    """

    def __init__(self, pools: list[Pool] | None = None, nodes: list[Node] | None = None,
                 reservations: list[Reservation] | None = None, ipam: list[IPAMSettings] | None = None,
                 manifests: list[Manifest] | None = None, problems: list[Finding] | None = None,
                 nodes_known: bool = False, files: int = 0, skipped: list[Skipped] | None = None) -> None:
        self.pools: list[Pool] = [] if pools is None else pools
        self.nodes: list[Node] = [] if nodes is None else nodes
        self.reservations: list[Reservation] = [] if reservations is None else reservations
        self.ipam: list[IPAMSettings] = [] if ipam is None else ipam
        self.manifests: list[Manifest] = [] if manifests is None else manifests
        self.problems: list[Finding] = [] if problems is None else problems
        self.nodes_known = nodes_known
        self.files = files
        self.skipped: list[Skipped] = [] if skipped is None else skipped

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
