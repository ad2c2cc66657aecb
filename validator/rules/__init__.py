"""The rule registry: importing this package registers every rule, in a stable order."""

# imported to register their rules, in this order
from . import fields, inputs, nodes, overlap, policy  # noqa: F401, I001
from . import calico, ipam, transitions  # noqa: F401, I001
from .base import REGISTRY, Context, Focus, Rule

__all__ = ["REGISTRY", "Context", "Focus", "Rule"]
