"""The `selector-invalid` rule: a pool selector Calico cannot use.

Calico's own check: the IPPool CEL rules (`api/pkg/apis/projectcalico/v3/ippool.go`) and `validateIPPoolSpec`
(`libcalico-go/lib/validator/v3/validator.go`), projectcalico/calico master 87c15906.
The diagnosis, `common.selector_problem`, is shared with the rules that defer to it.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding, family_name
from .base import Context, rule
from .common import selector_problem


@rule("selector-invalid", "error", "A nodeSelector or namespaceSelector that Calico cannot use",
      calico="calicoctl and the Calico API server parse selectors, all versions (validator/v3 'selector' "
             "tag; CRD installs without the API server store a broken selector); global( rejected since "
             "v3.31 (Go) and by the CRD's CEL since v3.33; maxLength 1024 in the CRD since v3.33",
      scope="object", reads=("pools",))
def selector_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Parses `nodeSelector` and `namespaceSelector` with Calico's selector grammar and checks that they are
    at most 1024 characters and do not contain `global(` anywhere. A selector that is not a string is
    schema-invalid's to report.

    ## Why is this bad?
    calicoctl and the Calico API server reject the pool; applied as a CRD, a broken selector is stored
    silently, and then it is worse than selecting nothing: Calico IPAM evaluates every enabled,
    Automatic pool's selectors for each pod (libcalico-go ipam.go `determinePools`) and returns the
    parse error for the whole request, so automatic address assignment of that IP family fails on every
    node. `global()` only has a meaning in policy rules; Calico rejects it in pool selectors.

    ## Example
    ```yaml
    spec:
      nodeSelector: rack == 0
    ```

    ## Use instead
    ```yaml
    spec:
      nodeSelector: rack == "0"
    ```
    """
    for pool in ctx.pools():
        for field in ("nodeSelector", "namespaceSelector"):
            text = pool.spec.get(field)
            if not isinstance(text, str):
                continue  # absent, or of the wrong type: schema-invalid
            problem = selector_problem(text, field)
            if not problem:
                continue
            if problem.startswith("does not parse") and not pool.disabled and pool.automatic:
                family = family_name(pool.version) if pool.version else "its IP family"
                where = "every node" if field == "nodeSelector" else "every node its nodeSelector selects"
                problem += (f"; until it is fixed, Calico IPAM fails every automatic {family} assignment "
                            f"on {where}")
            hint = ("use all() to select every node" if "global(" in problem else
                    'quote values and use Calico syntax, e.g. rack == "0" or has(zone)')
            yield ctx.finding(f"{pool.resource}: spec.{field} {problem}", pool.resource,
                              ctx.at(pool, "spec", field), hint,
                              subject=field)
