"""A yes/no checker compiled from a JSON Schema (Draft 2020-12), for the keywords our schemas use.

jsonschema walks a schema anew for every object and builds error objects as it goes: about 65 µs an
IPPool. Compiled once into nested closures, the same schema answers "valid or not" in a few µs; only the
objects it refuses go to jsonschema for an explanation (`validator.schemas.errors`). We compile rather
than depend on a generated-code library: fastjsonschema, the well-known one, implements drafts 4, 6 and 7
only, and its type and uniqueness semantics differ from jsonschema's in corners (1.0 as an integer); here
every keyword follows jsonschema's own implementation, and tests/test_schemas.py proves the verdicts equal
on random and mutated objects.

A dict entry whose value is None counts as absent (the API server prunes nulls before applying a CRD's
schema; `without_nulls` does the same for jsonschema). A keyword outside the subset raises `ValueError`
when the schema is compiled, so a schema edit can never be checked half-way without a failing test.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]
Maker = Callable[[Any, dict[str, Any], bool], Check]

ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "default", "examples"})


def compile_schema(schema: Any, prune_nulls: bool = True) -> Check:
    """The schema as one function from an instance to its verdict; with `prune_nulls`, a dict entry whose
    value is None counts as absent."""
    if schema is True:
        return _always
    if schema is False:
        return _never
    if not isinstance(schema, dict):
        raise ValueError(f"not a schema: {schema!r}")
    unknown = set(schema) - ANNOTATIONS - set(_KEYWORDS) - {"then", "else"}
    if unknown:
        raise ValueError(f"keywords outside the compiled subset: {', '.join(sorted(unknown))}")
    checks = [make(schema[key], schema, prune_nulls) for key, make in _KEYWORDS.items() if key in schema]
    checks = [c for c in checks if c is not _always]
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    return _every(checks)


def _every(checks: list[Check]) -> Check:
    """All of `checks`, tested in a loop (no generator per instance: `all(...)` over one costs a frame)."""

    def every(instance: Any) -> bool:
        for check in checks:  # noqa: SIM110  (all() over a generator is what this avoids)
            if not check(instance):
                return False
        return True

    return every


def _always(instance: Any) -> bool:
    return True


def _never(instance: Any) -> bool:
    return False


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": _is_integer,
    "number": _is_number,
}


def _type(value: Any, schema: dict[str, Any], prune: bool) -> Check:
    names = [value] if isinstance(value, str) else list(value)
    tests = [TYPES[name] for name in names]
    if len(tests) == 1:
        return tests[0]
    return lambda instance: any(test(instance) for test in tests)


def _strings(values: list[Any], keyword: str) -> frozenset[str]:
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"{keyword} with values other than strings is outside the compiled subset")
    return frozenset(values)


def _enum(value: list[Any], schema: dict[str, Any], prune: bool) -> Check:
    allowed = _strings(value, "enum")  # jsonschema's equal() is == when either side is a string
    return lambda instance: isinstance(instance, str) and instance in allowed


def _const(value: Any, schema: dict[str, Any], prune: bool) -> Check:
    allowed = _strings([value], "const")
    return lambda instance: isinstance(instance, str) and instance in allowed


def _pattern(value: str, schema: dict[str, Any], prune: bool) -> Check:
    """jsonschema uses re.search on the pattern text: the same engine. Compiled when first asked, so that a
    lint of pools without labels compiles no label pattern at start-up, and then kept (`re.search(text)`
    looks the pattern up in re's cache on every call)."""
    search: Callable[[str], Any] | None = None

    def matches(instance: Any) -> bool:
        nonlocal search
        if not isinstance(instance, str):
            return True
        if search is None:
            search = re.compile(value).search
        return search(instance) is not None

    return matches


def _bound(kind: str, fails: Callable[[Any, Any], bool]) -> Maker:
    """`fails` is jsonschema's own test (`instance < minimum`), not its negation: NaN passes both bounds."""
    applies = TYPES[kind]

    def make(value: Any, schema: dict[str, Any], prune: bool) -> Check:
        if kind in ("string", "array"):
            return lambda instance: not applies(instance) or not fails(len(instance), value)
        return lambda instance: not applies(instance) or not fails(instance, value)

    return make


def _properties(value: dict[str, Any], schema: dict[str, Any], prune: bool) -> Check:
    checks = [(name, compile_schema(sub, prune)) for name, sub in value.items()]
    checks = [(name, check) for name, check in checks if check is not _always]
    absent = object()

    def properties(instance: Any) -> bool:
        if not isinstance(instance, dict):
            return True
        for name, check in checks:
            item = instance.get(name, absent)
            if item is not absent and not (prune and item is None) and not check(item):
                return False
        return True

    return properties


def _required(value: list[str], schema: dict[str, Any], prune: bool) -> Check:
    names = tuple(value)
    if prune:
        def present(instance: Any) -> bool:
            if isinstance(instance, dict):
                for name in names:
                    if instance.get(name) is None:
                        return False
            return True

        return present
    return lambda instance: not isinstance(instance, dict) or all(name in instance for name in names)


def _additional(value: Any, schema: dict[str, Any], prune: bool) -> Check:
    if "patternProperties" in schema:
        raise ValueError("patternProperties is outside the compiled subset")
    known = frozenset(schema.get("properties", {}))
    check = compile_schema(value, prune)

    def additional(instance: Any) -> bool:
        if not isinstance(instance, dict):
            return True
        for key, item in instance.items():
            if key not in known and not (prune and item is None) and not check(item):
                return False
        return True

    return additional


def _property_names(value: Any, schema: dict[str, Any], prune: bool) -> Check:
    check = compile_schema(value, prune)

    def names(instance: Any) -> bool:
        if isinstance(instance, dict):
            for key, item in instance.items():
                if not (prune and item is None) and not check(key):
                    return False
        return True

    return names


def _items(value: Any, schema: dict[str, Any], prune: bool) -> Check:
    if "prefixItems" in schema:
        raise ValueError("prefixItems is outside the compiled subset")
    check = compile_schema(value, prune)

    def items(instance: Any) -> bool:
        if isinstance(instance, list):
            for item in instance:
                if not check(item):
                    return False
        return True

    return items


def _unique(value: Any, schema: dict[str, Any], prune: bool) -> Check:
    """Only over string items (every uniqueItems we have): jsonschema's uniq() on other values depends
    on sort order, and an array with other items fails its `items` check anyway."""
    items = schema.get("items")
    if value is not True or not isinstance(items, dict) or items.get("type") != "string":
        return _always if value is False else _unsupported("uniqueItems without string items")

    def unique(instance: Any) -> bool:
        if not isinstance(instance, list) or not all(isinstance(i, str) for i in instance):
            return True  # the items check decides
        return len(set(instance)) == len(instance)

    return unique


def _unsupported(what: str) -> Check:
    raise ValueError(f"{what} is outside the compiled subset")


def _all_of(value: list[Any], schema: dict[str, Any], prune: bool) -> Check:
    return _every([compile_schema(sub, prune) for sub in value])


def _if(value: Any, schema: dict[str, Any], prune: bool) -> Check:
    test = compile_schema(value, prune)
    then = compile_schema(schema.get("then", True), prune)
    otherwise = compile_schema(schema.get("else", True), prune)
    return lambda instance: then(instance) if test(instance) else otherwise(instance)


_KEYWORDS: dict[str, Maker] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "required": _required,
    "properties": _properties,
    "additionalProperties": _additional,
    "propertyNames": _property_names,
    "items": _items,
    "uniqueItems": _unique,
    "pattern": _pattern,
    "minLength": _bound("string", lambda n, v: n < v),
    "maxLength": _bound("string", lambda n, v: n > v),
    "minItems": _bound("array", lambda n, v: n < v),
    "maxItems": _bound("array", lambda n, v: n > v),
    "minimum": _bound("number", lambda n, v: n < v),
    "maximum": _bound("number", lambda n, v: n > v),
    "allOf": _all_of,
    "if": _if,
}
