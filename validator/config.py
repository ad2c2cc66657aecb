"""The organisation's policy: rule levels, pod density and address plan, with Calico's defaults otherwise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .model import IPNet

Level = Literal["off", "warning", "error"]
DEFAULT_MAX_PODS = 110  # the kubelet's default maxPods


@dataclass(frozen=True)
class ReservedRange:
    network: IPNet
    reason: str


@dataclass(frozen=True)
class Config:
    rule_levels: dict[str, Level] = field(default_factory=dict)
    max_pods: int = DEFAULT_MAX_PODS
    allowed_cidrs: tuple[IPNet, ...] = ()
    reserved_cidrs: tuple[ReservedRange, ...] = ()
    require_dual_stack: bool = False
    require_fallback: bool = True
    topology_labels: tuple[str, ...] | None = None
    source: str = ""  # the policy file this came from, "" for built-in defaults
