"""What an audit rule's check receives: the state, its utilisation, the shared analysis and the policy.

Lint's `Context` is about manifests (a Cluster, a ClusterView, a Focus for the webhook); none of that fits
IPAM state, so audit rules get this instead, and share the registry, the `rules` listing, the docs and
the report renderers with lint's rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..model import Finding, Related, Resource, Source

if TYPE_CHECKING:
    from ..rules.base import Rule
    from .analysis import Analysis
    from .model import AuditPolicy, AuditState
    from .utilisation import Utilisation


@dataclass
class AuditContext:
    state: AuditState
    usage: Utilisation
    analysis: Analysis
    policy: AuditPolicy
    now: datetime
    rule: Rule | None = None

    def finding(
        self,
        message: str,
        resource: Resource | None,
        source: Source | None,
        hint: str = "",
        related: Iterable[Related] = (),
        subject: str = "",
    ) -> Finding:
        assert self.rule is not None
        return Finding(
            self.rule.id, self.rule.severity, message, resource, source, hint, tuple(related), subject
        )
