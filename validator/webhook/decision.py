"""The admission decision: the findings a write introduces, not the ones the cluster already had.

Both states are judged by the engine with the same rules, policy and Focus (`plan.make_plan`), and the
findings compared by `Finding.identity` (rule, object, related objects, subject; a pool is one object
whichever Calico API group names it). Then:

- an error of the after-state denies when it is new (its identity is absent before), or when it comes from
  a rule of `scope="object"` about a written object itself: an object that is written must be valid whole,
  even if its old version had the same mistake;
- any other error of the after-state already existed (an old overlap, a node stranded before): it never
  blocks the write; when it involves a written object (as its subject or a related object) it is returned
  as a warning prefixed "pre-existing:", so whoever touches that object learns of it;
- warnings of the after-state are returned when they are new or about a written object. Pre-existing
  findings about other objects only are left out, to keep kubectl's output short;
- in `warn` mode nothing is denied: what would have been is returned first, prefixed "would be denied:".

Only rules that read the kind written (`Rule.reads`: a Node write runs no rule of pools alone) are run at
all: the others find exactly the same before and after, about objects the write does not touch, so they can
neither deny it nor warn about it.

DELETE compares with the cluster without the object, so deleting the pool that is a node's last one is
denied with the stranded nodes named. dryRun requests are judged the same; judging never changes the state.
Nodes are the one special case, both halves of it in `judging_mode` and `failure_mode` below: a kubelet
registering its node is judged as in warn mode, and no Node write is refused for the webhook's own fault.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from ..config import Config
from ..engine import enabled_rules, run
from ..model import Finding
from ..rules import REGISTRY, Rule
from ..rules.base import Focus
from .admission import AdmissionRequest
from .changes import normalized
from .delta import DeltaView
from .plan import Plan, make_plan
from .routes import CREATE, DELETE, JUDGED_KINDS
from .snapshot import Snapshot

Mode = Literal["enforce", "warn"]
VERBS = {"CREATE": "creating", "UPDATE": "updating", "DELETE": "deleting"}
RULES_SHOWN = 2  # rules spelled out in a denial; the rest are named
OBJECTS_SHOWN = 5
MAX_MESSAGE = 512  # characters of one finding's message in a denial


@dataclass
class Decision:
    allowed: bool
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    denied_rules: tuple[str, ...] = ()


def is_judged(request: AdmissionRequest) -> bool:
    return request.operation in JUDGED_KINDS.get((request.group, request.kind), ())


def judge(snapshot: Snapshot, request: AdmissionRequest, config: Config, mode: Mode = "enforce") -> Decision:
    """Allow or deny one write against `snapshot`: a judged request with its objects (`is_judged`,
    `admission.require_objects`), in the mode `judging_mode` gives."""
    plan = make_plan(snapshot, request)
    verb = VERBS.get(request.operation, request.operation.lower())
    # A DELETE leaves none of the written objects in the after-state, and object rules judge only those
    # (tests/test_webhook_delta.py checks that they find nothing there), so they are not run for it.
    own = [] if request.operation == DELETE else object_findings(plan.after, plan, config)
    if mode == "enforce" and any(refuses_the_object(f, plan) for f in own):
        # The answer is "denied" whatever the relational rules say, so they are not asked: an object the
        # API server's own schema refuses (an Installation with thousands of ipPools where the CRD allows
        # 25) costs only its own checks, never its pools x the cluster's nodes.
        return decide([], own, plan, verb, mode)
    after = own + relation_findings(plan.after, plan, config)
    if not after:
        return Decision(True)  # a clean write (the usual one): nothing to compare
    # Only an after-finding's rule can tell new from pre-existing: the before-state runs those rules only
    # (a clean write runs none and builds no before-state), which halves the work of a typical request.
    before = findings(plan.before, plan, config, frozenset(f.rule for f in after))
    return decide(before, after, plan, verb, mode)


# Nodes: the one special case.

def judging_mode(request: AdmissionRequest, mode: Mode) -> Mode:
    """A kubelet registering its node (a Node CREATE) is never refused: a refusal would only keep the
    node out of the cluster (the kubelet retries for ever, and nobody reads its admission warnings),
    where admitting it lets `node-unselected` be seen and fixed. Label changes are judged as usual."""
    return "warn" if _is_node(request) and request.operation == CREATE else mode


def failure_mode(request: AdmissionRequest, on_error: str) -> str:
    """How a request the webhook could not judge is answered: as `--on-error` says ("deny" or "allow"),
    but a Node write is always admitted ("allow-node"): a node must never be kept out of, or stuck in,
    the cluster because this webhook is broken."""
    return "allow-node" if _is_node(request) else on_error


def _is_node(request: AdmissionRequest) -> bool:
    return request.group == "" and request.kind == "Node"


def refuses_the_object(finding: Finding, plan: Plan) -> bool:
    """An error of an object rule about a written object: it denies whatever the before-state held."""
    rule = REGISTRY.get(finding.rule)
    return (finding.severity == "error" and rule is not None and rule.scope == "object"
            and finding.resource is not None and normalized(finding.resource) in plan.written_identities)


def findings(view: DeltaView, plan: Plan, config: Config,
             wanted: frozenset[str] | None = None) -> list[Finding]:
    """The engine's findings for the plan's focus in one state, in two runs that never overlap."""
    return object_findings(view, plan, config, wanted) + relation_findings(view, plan, config, wanted)


def object_findings(view: DeltaView, plan: Plan, config: Config,
                    wanted: frozenset[str] | None = None) -> list[Finding]:
    """Rules of `scope="object"` judge an object's own content, which only the written objects changed, so
    they see only those. An object rule's finding about an unwritten object could neither be new nor
    involve the write."""
    return _run(view, config, rules_reading(plan.written_kinds, "object"), wanted, plan.own_focus)


def relation_findings(view: DeltaView, plan: Plan, config: Config,
                      wanted: frozenset[str] | None = None) -> list[Finding]:
    """Relational rules see the whole focus: the pools and nodes the write affects."""
    return _run(view, config, rules_reading(plan.written_kinds, "relation"), wanted, plan.focus)


def _run(view: DeltaView, config: Config, rules: frozenset[str], wanted: frozenset[str] | None,
         focus: Focus) -> list[Finding]:
    chosen = rules if wanted is None else rules & wanted
    if not chosen:
        return []
    narrowed, enabled = only(config, chosen)
    return run(view.cluster, narrowed, focus, view, enabled).findings


@cache
def rules_reading(kinds: frozenset[str], scope: str = "") -> frozenset[str]:
    """The rules (of `scope`, "object" or "relation", or both) whose findings a write of these kinds can
    change (`Rule.reads`). The others find the same before and after it, about objects it did not write, so
    they could neither deny it nor warn about it: they are not run (a Node write runs no rule of pools
    alone; an IPReservation write, no rule of nodes)."""
    return frozenset(r.id for r in REGISTRY.values() if r.reads & kinds and scope in ("", r.scope))


_ONLY: dict[tuple[int, frozenset[str]], tuple[Config, Config, list[Rule]]] = {}


def only(config: Config, rules: frozenset[str]) -> tuple[Config, list[Rule]]:
    """The policy with every rule but `rules` turned off, and the rules it enables (remembered: a server
    has one policy)."""
    held = _ONLY.get((id(config), rules))
    if held is not None and held[0] is config:
        return held[1], held[2]
    levels = {rule: "off" for rule in REGISTRY if rule not in rules}
    levels.update((rule, level) for rule, level in config.rule_levels.items() if rule in rules)
    narrowed = dataclasses.replace(config, rule_levels=levels)  # type: ignore[arg-type]
    enabled = enabled_rules(narrowed)
    if len(_ONLY) > 1024:
        _ONLY.clear()
    _ONLY[(id(config), rules)] = (config, narrowed, enabled)
    return narrowed, enabled


def identity(finding: Finding) -> tuple[Any, ...]:
    related = tuple(normalized(r.resource) for r in finding.related)
    return (finding.rule, normalized(finding.resource), related, finding.subject)


def decide(before: Iterable[Finding], after: Iterable[Finding], plan: Plan, verb: str,
           mode: Mode) -> Decision:
    seen = {identity(f) for f in before}
    written = plan.written_identities
    blocking: list[Finding] = []
    warnings: list[str] = []
    for finding in after:
        new = identity(finding) not in seen
        own = finding.resource is not None and normalized(finding.resource) in written
        involved = own or any(normalized(r.resource) in written for r in finding.related)
        rule = REGISTRY.get(finding.rule)
        whole = own and rule is not None and rule.scope == "object"
        if finding.severity == "error":
            if new or whole:
                blocking.append(finding)
            elif involved:
                warnings.append("pre-existing: " + line_of(finding))
        elif new or own:
            warnings.append(line_of(finding))
    rules = tuple(dict.fromkeys(f.rule for f in blocking))
    if not blocking:
        return Decision(True, warnings=warnings)
    if mode == "warn":
        return Decision(True, warnings=[f"would be denied: {line_of(f)}" for f in blocking] + warnings,
                        denied_rules=rules)
    return Decision(False, deny_message(blocking, verb, plan.subject), warnings, rules)


def line_of(finding: Finding) -> str:
    return f"[{finding.rule}] {finding.message}"


def deny_message(blocking: list[Finding], verb: str, subject: str) -> str:
    """One line per rule (two at most), each naming the objects involved and the fix, for kubectl's output."""
    groups: dict[str, list[Finding]] = {}
    for finding in blocking:
        groups.setdefault(finding.rule, []).append(finding)
    lines = []
    for rule, findings in list(groups.items())[:RULES_SHOWN]:
        first = findings[0]
        text = f"[{rule}] {elided(first.message)}"
        others = list(dict.fromkeys(name for f in findings[1:] for name in _involved(f, first)))
        if others:
            more = len(others) - OBJECTS_SHOWN
            text += f"; also {', '.join(others[:OBJECTS_SHOWN])}" + (f" and {more} more" if more > 0 else "")
        if first.hint:
            text += f"; fix: {first.hint}"
        lines.append(text)
    message = f"{verb} {subject}: " + "\n".join(lines)
    hidden = list(groups)[RULES_SHOWN:]
    if hidden:
        message += f" (also broken: {', '.join(hidden)})"
    return message


def elided(text: str, most: int = MAX_MESSAGE) -> str:
    """A finding's message cut in the middle when long (a schema error quoting a huge value): kubectl
    shows the status message whole, and its start and end say what and why."""
    if len(text) <= most:
        return text
    half = (most - 5) // 2
    return f"{text[:half]} ... {text[-half:]}"


def _involved(finding: Finding, first: Finding) -> list[str]:
    """What tells this finding from the first one of its rule: its object, or else the objects it relates."""
    if finding.resource is not None and finding.resource != first.resource:
        return [str(finding.resource)]
    return [str(r.resource) for r in finding.related] or [str(finding.source)]
