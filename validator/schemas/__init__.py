"""The JSON Schemas of the objects we read and of the policy file: loading, and the validators built on them.

The schema files are package data beside this module (`policies/schemas` is a link to this folder for
editors). Two validators are built from each schema, both lazily and once per process:

- `is_valid(name, instance)`: a checker compiled from the schema (`checker.py`) that says only yes or no,
  about 20x faster than jsonschema, so that the common case (a valid object) costs little;
- `errors(name, instance)`: jsonschema's Draft 2020-12 validator, asked only about objects the checker
  refused, to explain them (messages, paths, the field's line).

The schemas are checked against their meta-schema by a test, not on every run. Both validators see an
object as the API server does: a field set to null is absent (Kubernetes prunes nulls of non-nullable
fields before a CRD's schema applies); the policy file is read as written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from .checker import compile_schema

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

NAMES = ("config", "installation", "ipamconfiguration", "ippool", "ipreservation")


def schema_dir() -> str:
    """Where the JSON Schemas live: in the package, always (os.path: pathlib is slow to import)."""
    return os.path.dirname(os.path.abspath(__file__))


@cache
def load(name: str) -> dict[str, Any]:
    """The schema called `name` (`ippool` is `ippool.schema.json`), parsed."""
    with open(os.path.join(schema_dir(), f"{name}.schema.json"), encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


@cache
def _checker(name: str, prune_nulls: bool) -> Callable[[Any], bool]:
    return compile_schema(load(name), prune_nulls)


@cache
def validator(name: str) -> Draft202012Validator:
    """jsonschema's validator for the schema (imported here, so that a run with no object to explain
    never imports jsonschema)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load(name))


def is_valid(name: str, instance: Any, prune_nulls: bool = True) -> bool:
    """Whether the instance satisfies the schema (with `prune_nulls`, as the API server sees it); the same
    verdict as jsonschema's, proved by tests/test_schemas.py."""
    return _checker(name, prune_nulls)(instance)


def errors(name: str, instance: Any, prune_nulls: bool = True) -> list[ValidationError]:
    """jsonschema's errors for the instance, sorted by path; [] without asking jsonschema when the compiled
    checker accepts it. The policy file passes prune_nulls=False: there `max-pods:` with no value is a
    mistake to report, not an absent key."""
    if is_valid(name, instance, prune_nulls):
        return []
    seen = without_nulls(instance) if prune_nulls else instance
    found = validator(name).iter_errors(past_max_items_cut(seen, load(name)))
    return sorted(found, key=lambda e: [str(p) for p in e.absolute_path])


def past_max_items_cut(value: Any, schema: Any) -> Any:
    """The instance with every array longer than its schema's `maxItems` cut to `maxItems + 1` items, for
    explaining it: the array is still too long (one error says so), and the errors of the items the API server
    would never store anyway are left out. Without the cut, explaining an Installation with 40,000 ipPools
    (the CRD allows 25) walks every entry through jsonschema: seconds, for a request the API server never
    sends. Follows `properties` and `items`, the keywords our schemas nest arrays under."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, list):
        limit = schema.get("maxItems")
        if isinstance(limit, int) and len(value) > limit + 1:
            value = value[: limit + 1]
        items = schema.get("items")
        return [past_max_items_cut(v, items) for v in value] if isinstance(items, dict) else value
    if isinstance(value, dict):
        properties = schema.get("properties")
        if isinstance(properties, dict):
            return {k: past_max_items_cut(v, properties.get(k)) for k, v in value.items()}
    return value


def without_nulls(value: Any) -> Any:
    """The object as the API server validates it: a field set to null (`annotations:` with nothing after it)
    is dropped before a CRD's schema is applied."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value
