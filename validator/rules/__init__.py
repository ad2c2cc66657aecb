"""The rule registry: importing this package registers every rule, in a stable order."""

from . import fields, inputs, nodes, overlap, policy  # noqa: F401  (imported to register their rules)
from .base import REGISTRY, Context, Focus, Rule

__all__ = ["REGISTRY", "Context", "Focus", "Rule"]
