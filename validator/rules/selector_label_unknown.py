"""The `selector-label-unknown` rule: selector keys outside topology-labels.

ippool-validator's own check (Calico checks none of this), on when the policy file sets `topology-labels`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

from ..analysis import selector_of
from ..model import Finding
from .base import Context, rule


@rule("selector-label-unknown", "warning", "A nodeSelector uses a label key that topology-labels lacks",
      scope="object", needs_config="topology-labels", reads=("pools",))
def selector_label_unknown(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    With `topology-labels` in the policy file (label keys, `*` as a wildcard), reports pools whose
    `nodeSelector` uses any other label key, with the closest allowed key when the key looks like a typo.

    ## Why is this bad?
    Pools are meant to follow the organisation's topology labels (zone, rack). A selector on another key
    (`topology.kubernetes.io/zones`, `Rack`, a hostname) selects no node or the wrong ones, and it breaks
    silently when nodes are relabelled; Calico accepts any key.

    ## Example
    ```yaml
    # topology-labels: [topology.kubernetes.io/zone, rack]
    spec:
      nodeSelector: zone == "eu-west-1a"
    ```

    ## Use instead
    ```yaml
    spec:
      nodeSelector: topology.kubernetes.io/zone == "eu-west-1a"
    ```
    """
    allowed = ctx.config.topology_labels
    if allowed is None:
        return
    exact = set(allowed)
    patterns = [p for p in allowed if "*" in p]
    for pool in ctx.pools():
        selector = selector_of(pool)
        if selector is None:
            continue
        unknown = sorted(k for k in selector.keys
                         if k not in exact and not any(fnmatch.fnmatchcase(k, p) for p in patterns))
        if not unknown:
            continue
        import difflib  # only for a finding: lint's start-up stays lean

        guesses = {k: difflib.get_close_matches(k, sorted(exact - set(patterns)), n=1) for k in unknown}
        hint = "; ".join(f"did you mean {g[0]!r} for {k!r}?" for k, g in guesses.items() if g)
        listed = ", ".join(allowed) if allowed else "none"
        yield ctx.finding(
            f"{pool.resource} nodeSelector {pool.node_selector!r} uses label key"
            f"{'s' * (len(unknown) > 1)} {', '.join(repr(k) for k in unknown)} that topology-labels does not "
            f"list (allowed: {listed})", pool.resource, pool.source,
            hint or "use a topology label, or add the key to topology-labels in the policy file")
