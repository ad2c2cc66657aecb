"""The `schema-invalid` rule: objects that break their JSON Schema (loaded and checked by validator.schemas).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .. import schemas
from ..model import Finding, Manifest, Source
from .base import Context, rule

if TYPE_CHECKING:  # jsonschema is imported only to explain an object the compiled checker refused
    from jsonschema.exceptions import ValidationError


def _path_text(path: Any) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text or "(object)"


def describe_error(error: ValidationError) -> str:
    where = _path_text(error.absolute_path)
    if error.validator == "pattern" and list(error.absolute_path)[-1:] == ["name"]:
        return f"{where} {error.instance!r} is not a valid name (lowercase letters, digits, '-' and '.')"
    if error.validator == "additionalProperties":
        return f"{where}: {error.message.replace('Additional properties are not allowed', 'unknown field')}"
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return f"{where} {error.instance!r} is not one of {allowed} (case-sensitive)"
    if error.validator == "type":
        return f"{where} {error.instance!r} is not of type {error.validator_value}"
    if error.validator == "maxItems":  # the instance was cut for explaining (schemas.past_max_items_cut)
        return f"{where} has more than {error.validator_value} items (the most it may have)"
    return f"{where}: {error.message}"


def schema_errors(manifest: Manifest) -> list[ValidationError]:
    if not manifest.schema:
        return []
    try:
        return schemas.errors(manifest.schema, manifest.body)
    except RecursionError:
        from jsonschema.exceptions import ValidationError

        return [ValidationError("the object nests too deeply to check")]


@rule("schema-invalid", "error", "An unknown field, a wrong type or a bad enum value in a Calico object",
      calico="kube-apiserver (the CRD's OpenAPI schema) and calicoctl's strict decoding", scope="object",
      reads=("pools", "reservations"))
def schema_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks IPPool, IPReservation, IPAMConfiguration and the operator's
    `Installation.spec.calicoNetwork.ipPools`
    against JSON Schemas kept in `policies/schemas/` (written from Calico's API types): required fields,
    unknown fields, types (`"true"` is not a boolean, `"26"` is not an integer) and case-sensitive enum
    values (`ipipMode: always` is not `Always`). The line is the field's own line.

    ## Why is this bad?
    The API server rejects the object, or (older CRDs without a structural schema) silently drops the
    unknown field: `ipipmode: Always` with a lower-case m leaves encapsulation off.

    ## Example
    ```yaml
    spec:
      cidr: 10.244.0.0/16
      natOutgoing: "true"
      ipipMode: always
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 10.244.0.0/16
      natOutgoing: true
      ipipMode: Always
    ```
    """
    for manifest in ctx.cluster.manifests:
        if ctx.focus is not None and manifest.resource not in ctx.focus.objects:
            continue
        for error in schema_errors(manifest):
            line = _error_line(manifest, error)
            yield ctx.finding(f"{manifest.resource}: {describe_error(error)}", manifest.resource,
                              Source(manifest.source.file, line),
                              "see the field reference in Calico's IPPool documentation",
                              subject=_path_text(error.absolute_path) + ":" + str(error.validator))


def _error_line(manifest: Manifest, error: ValidationError) -> int:
    """The line of the offending field; for unknown fields, the first unknown key rather than its parent."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        lines = [manifest.line_of((*path, key)) for key in error.instance
                 if key not in known and isinstance(key, str)]
        if lines:
            return min(lines)
    return manifest.line_of(path)
