"""What a rule is, and the registry that maps stable ids to rules.

Shaped after yamllint's rule modules and ruff's rule docs: a rule is an id, a default severity, a one-line
summary, a doc (What it does / Why is this bad? / Example / Use instead, written once, in the checking
function's docstring) and a generator of findings. The CLI's `rules` command, the README table and the SARIF
rule descriptions all render that one text.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from ..lazy import cached_property
from ..model import Finding, Node, Pool, Related, Resource, Severity, Source

if TYPE_CHECKING:
    from ..config import Config
    from ..model import Cluster
    from ..view import View

DOCS_URL = "https://github.com/ippool-validator/ippool-validator/blob/main/docs/rules.md#"
CASES_DIR = "tests/fixtures/rules"  # one folder of bad-*.yaml and good-*.yaml per rule id
Scope = Literal["object", "relation"]
WRITTEN = ("pools", "nodes", "reservations")  # the kinds of object a judged write changes (Rule.reads)
Target = Literal["lint", "audit"]  # what a rule judges: manifests (lint, serve) or IPAM state (audit)


class Focus(NamedTuple):
    """What a change touches: the webhook asks only about these objects; None in the context means all."""

    pools: frozenset[Resource] = frozenset()
    nodes: AbstractSet[Resource] = frozenset()  # the webhook's is listed only when read (plan.NodeResources)
    reservations: frozenset[Resource] = frozenset()
    objects: frozenset[Resource] = frozenset()  # the written objects themselves (an Installation, a pool)
    cluster_wide: bool = True  # also the cluster-level findings (fallback-missing)
    previous: tuple[Pool, ...] = ()  # on an UPDATE, the written pools as they were (update rules)


class Context:
    """What a rule's check receives: the cluster, the shared view of it (the questions rules may ask,
    validator/view.py), the policy, and the focus. The engine makes one per run and sets `rule` to each
    rule in turn, draining a rule's findings before the next (a Context per rule cost the webhook 3 µs a
    request), so what the context looks up (the focus's pools and nodes) is looked up once per run."""

    def __init__(self, cluster: Cluster, view: View, config: Config, focus: Focus | None = None,
                 rule: Rule | None = None) -> None:
        self.cluster = cluster
        self.view = view
        self.config = config
        self.focus = focus
        self.rule = rule

    def pools(self) -> list[Pool]:
        return self.cluster.pools if self.focus is None else self._focus_pools

    def nodes(self) -> list[Node]:
        return self.cluster.nodes if self.focus is None else self._focus_nodes

    @cached_property
    def _focus_pools(self) -> list[Pool]:
        assert self.focus is not None
        return self.view.pools_in(self.focus.pools)  # by lookup: a focus costs its size, not the cluster's

    @cached_property
    def _focus_nodes(self) -> list[Node]:
        assert self.focus is not None
        return self.view.nodes_in(self.focus.nodes)

    def previous(self, pool: Pool) -> Pool | None:
        """This pool as it was before the write being judged (an UPDATE in the webhook); None for a new
        pool, and always in a lint, which sees one version of each object."""
        return self._previous.get(pool.name) if self.focus is not None else None

    @cached_property
    def _previous(self) -> dict[str, Pool]:
        return {old.name: old for old in self.focus.previous} if self.focus is not None else {}

    @property
    def cluster_wide(self) -> bool:
        return self.focus is None or self.focus.cluster_wide

    def at(self, obj: Pool | Node | Any, *path: str | int) -> Source:
        """The line of the object's field at `path` (`ctx.at(pool, "spec", "cidr")`): field rules point at
        the field, as schema-invalid does."""
        return self.view.field_source(obj, path)

    def finding(self, message: str, resource: Resource | None, source: Source | None, hint: str = "",
                related: Iterable[Pool | Node | Related] = (), subject: str = "") -> Finding:
        assert self.rule is not None
        rel = tuple(r if isinstance(r, Related) else Related(r.resource, r.source) for r in related) \
            if related else ()
        return Finding(self.rule.id, self.rule.severity, message, resource, source, hint, rel, subject)


Check = Callable[[Context], Iterable[Finding]]


class Rule(NamedTuple):
    id: str
    severity: Severity
    summary: str
    docstring: str  # as written; `doc` is the text to render
    check: Check
    calico: str = ""  # which Calico component also rejects this, and since when; "" if only we check it
    needs_nodes: bool = False
    scope: Scope = "relation"  # "object": about the object's own content, so a write of it is judged whole
    needs_config: str = ""  # the policy key that turns this rule on ("" = always on)
    target: Target = "lint"  # "audit": check takes a validator.audit AuditContext, not a Context
    needs_input: tuple[str, ...] = ()  # audit inputs it needs: nodes, pods, pod-status, handles
    reads: frozenset[str] = frozenset(WRITTEN)  # the written kinds its findings depend on (see `rule`)

    @property
    def doc(self) -> str:
        """The documentation, its docstring's indentation removed when asked (for forty rules at every start
        that costs lint 0.25 ms, and only `rules`, SARIF and the docs render it)."""
        return inspect.cleandoc(self.docstring)

    @property
    def help_uri(self) -> str:
        return DOCS_URL + self.id

    @property
    def module(self) -> str:
        """The module that holds the rule: named from its id (tests/test_registry.py holds this)."""
        return f"{__package__}.{self.id.replace('-', '_')}"

    @property
    def code_path(self) -> str:
        """Where the rule's code is, relative to the repository root."""
        return self.module.replace(".", "/") + ".py"

    @property
    def cases_path(self) -> str:
        """Where the rule's bad and good cases are, relative to the repository root."""
        return f"{CASES_DIR}/{self.id}/"


def rule(rule_id: str, severity: Severity, summary: str, *, calico: str = "", needs_nodes: bool = False,
         scope: Scope = "relation", needs_config: str = "",
         reads: Iterable[str] = WRITTEN) -> Callable[[Check], Rule]:
    """Make the decorated generator a rule; its docstring is the rule's documentation. The rule is not
    registered here: `validator.rules` lists every rule in one table.

    `reads` names which of the kinds the webhook judges writes of ("pools", "nodes", "reservations") the
    rule's findings depend on; a write of any other kind cannot change them, so the webhook does not run
    the rule for it (as Kyverno matches a policy to kinds). Absent, it is all of them: a rule that leaves it
    out is always run. tests/test_webhook_delta.py checks every declaration on random clusters and writes.
    """
    kinds = frozenset(reads)
    if not kinds <= set(WRITTEN):
        raise ValueError(f"{rule_id}: reads must be among {', '.join(WRITTEN)}, not {sorted(kinds)}")

    def define(check: Check) -> Rule:
        return Rule(rule_id, severity, summary, check.__doc__ or "", check, calico, needs_nodes, scope,
                    needs_config, reads=kinds)

    return define


AuditCheck = Callable[..., Iterable[Finding]]  # takes a validator.audit.context.AuditContext


def audit_rule(rule_id: str, severity: Severity, summary: str, *, calico: str = "",
               needs: tuple[str, ...] = ()) -> Callable[[AuditCheck], Rule]:
    """Make the decorated generator an audit rule (its check takes an AuditContext and judges IPAM state,
    not manifests); its docstring is the rule's documentation. Listed in `validator.rules` as any rule."""

    def define(check: AuditCheck) -> Rule:
        return Rule(rule_id, severity, summary, check.__doc__ or "", check, calico, target="audit",
                    needs_input=needs)

    return define


def input_rule(rule_id: str, severity: Severity, summary: str, doc: str, *, calico: str = "") -> Rule:
    """A rule whose findings the sources emit while reading (yaml-invalid): it checks nothing itself. It
    reads no written kind: a judged write's objects arrive as a change, never as input problems, so the
    webhook never runs it."""

    def no_check(ctx: Context) -> Iterator[Finding]:
        return iter(())

    return Rule(rule_id, severity, summary, doc, no_check, calico, False, "object", reads=frozenset())


def registry(*rules: Rule) -> dict[str, Rule]:
    """The rules by id, in the order given (the order of the README table and docs/rules.md); an id given
    twice is refused, whichever kind of rule either is."""
    table: dict[str, Rule] = {}
    for each in rules:
        if each.id in table:
            raise ValueError(f"rule {each.id} registered twice")
        table[each.id] = each
    return table
