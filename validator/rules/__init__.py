"""The rule registry: one table of every rule, in the order the README table and docs/rules.md show.

As in yamllint's `rules/__init__.py`, each rule lives in the module named after its id (`cidr-reserved` in
`cidr_reserved.py`) and is listed here by hand: no rule registers itself on import, so no import order
matters. Helpers that several rules share live in `common.py`; `base.py` says what a rule is.
"""

from . import (
    block_size_invalid,
    cidr_conflicts_reserved,
    cidr_invalid,
    cidr_link_local,
    cidr_not_allowed,
    cidr_public,
    cidr_reserved,
    dual_stack_missing,
    encapsulation_invalid,
    fallback_missing,
    ipam_config_invalid,
    ipreservation_invalid,
    legacy_field_set,
    load_balancer_invalid,
    node_block_limit,
    node_unselected,
    operator_pool_invalid,
    pool_capacity,
    pool_immutable_field,
    pool_name_duplicate,
    pool_nearly_full,
    pool_overlap,
    pool_selects_nothing,
    pool_smaller_than_block,
    pool_status_unallocatable,
    reservation_covers_pool,
    schema_invalid,
    selector_invalid,
    selector_label_unknown,
    tunnel_namespace_selector,
    yaml_invalid,
)
from .base import Context, Focus, Rule, registry

REGISTRY: dict[str, Rule] = registry(
    cidr_invalid.cidr_invalid,
    block_size_invalid.block_size_invalid,
    pool_smaller_than_block.pool_smaller_than_block,
    encapsulation_invalid.encapsulation_invalid,
    cidr_reserved.cidr_reserved,
    cidr_public.cidr_public,
    selector_invalid.selector_invalid,
    pool_name_duplicate.pool_name_duplicate,
    yaml_invalid.yaml_invalid,
    schema_invalid.schema_invalid,
    node_unselected.node_unselected,
    fallback_missing.fallback_missing,
    pool_selects_nothing.pool_selects_nothing,
    pool_capacity.pool_capacity,
    pool_overlap.pool_overlap,
    reservation_covers_pool.reservation_covers_pool,
    cidr_not_allowed.cidr_not_allowed,
    cidr_conflicts_reserved.cidr_conflicts_reserved,
    dual_stack_missing.dual_stack_missing,
    selector_label_unknown.selector_label_unknown,
    load_balancer_invalid.load_balancer_invalid,
    tunnel_namespace_selector.tunnel_namespace_selector,
    cidr_link_local.cidr_link_local,
    legacy_field_set.legacy_field_set,
    operator_pool_invalid.operator_pool_invalid,
    pool_status_unallocatable.pool_status_unallocatable,
    pool_nearly_full.pool_nearly_full,
    node_block_limit.node_block_limit,
    ipam_config_invalid.ipam_config_invalid,
    ipreservation_invalid.ipreservation_invalid,
    pool_immutable_field.pool_immutable_field,
)

__all__ = ["REGISTRY", "Context", "Focus", "Rule"]
