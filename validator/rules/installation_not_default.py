"""The `installation-not-default` rule: an Installation the operator never reconciles.

Read from tigera/operator (`pkg/controller/ippool/pool_controller.go` `Reconcile`, which gets the Installation
by `utils.DefaultInstanceKey`, the name `default`; the core controller reads it the same way).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..model import Finding, Source
from .base import Context, rule


@rule("installation-not-default", "warning", "An operator Installation not named default: the operator "
      "ignores it, so its pools never exist", scope="object", reads=("pools",))
def installation_not_default(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Finds `operator.tigera.io/v1` Installations whose name is not `default`.

    ## Why is this bad?
    The tigera operator reads one Installation, the one named `default`, and ignores every other: none of
    its `spec.calicoNetwork.ipPools` is ever created, and nothing else it asks for happens. The linter
    therefore reads no pools from it (no other rule judges them), so a typo in the name hides them
    entirely; this warning says so.

    ## Example
    ```yaml
    apiVersion: operator.tigera.io/v1
    kind: Installation
    metadata: {name: calico}
    ```

    ## Use instead
    ```yaml
    metadata: {name: default}
    ```
    """
    for manifest in ctx.cluster.manifests:
        if manifest.schema != "installation" or manifest.resource.name == "default":
            continue
        if ctx.focus is not None and manifest.resource not in ctx.focus.objects:
            continue
        network = manifest.body.get("spec")
        network = network.get("calicoNetwork") if isinstance(network, Mapping) else None
        entries = network.get("ipPools") if isinstance(network, Mapping) else None
        count = len(entries) if isinstance(entries, list) else 0
        pools = f"its {count} ipPools entr{'y is' if count == 1 else 'ies are'} never created" if count \
            else "nothing in it takes effect"
        yield ctx.finding(
            f"{manifest.resource}: the operator reconciles only the Installation named 'default'; {pools}",
            manifest.resource, Source(manifest.source.file, manifest.line_of(("metadata", "name"))),
            "name it default (one Installation per cluster)")
