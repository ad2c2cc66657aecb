"""The `ipam-config-invalid` rule: an IPAMConfiguration Calico refuses or never reads.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding
from .base import Context, rule

MAX_BLOCKS_PER_HOST = {"projectcalico.org/v3": 1_000_000, "crd.projectcalico.org/v1": 2_147_483_647}
MAX_IP_COOLDOWN_SECONDS = 1200


@rule("ipam-config-invalid", "error", "An IPAMConfiguration that Calico rejects or never reads",
      calico="calicoctl and the Calico API server, all versions (clientv3 ipamconfig.go: name must be "
             "default; validator/v3: maxBlocksPerHost >= 0); the IPAMConfiguration and IPAMConfig CRDs "
             "(ranges)", scope="object", reads=())
def ipam_config_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks `IPAMConfiguration` (`projectcalico.org/v3`) and `IPAMConfig` (`crd.projectcalico.org/v1`)
    objects: the name must be `default`; `maxBlocksPerHost` from 0 to 1000000 (v1: 2147483647), where 0
    means Calico's built-in 20; `ipCooldownSeconds` from 0 to 1200. Types are schema-invalid's.

    ## Why is this bad?
    calicoctl and the Calico API server refuse another name ('Cannot create an IPAMConfiguration
    resource with a name other than "default"'), and where the CRD stores it anyway, IPAM reads only
    `default`: the settings have no effect. A negative limit is rejected ("must be greater than or
    equal to 0").

    ## Example
    ```yaml
    kind: IPAMConfiguration
    metadata:
      name: ipam
    spec:
      strictAffinity: true
      maxBlocksPerHost: -1
    ```

    ## Use instead
    ```yaml
    kind: IPAMConfiguration
    metadata:
      name: default
    spec:
      strictAffinity: true
      maxBlocksPerHost: 4
    ```
    """
    for settings in ctx.cluster.ipam:
        if ctx.focus is not None and settings.resource not in ctx.focus.objects:
            continue
        resource = settings.resource
        if resource.name != "default":
            yield ctx.finding(
                f"{resource}: the name must be default (Calico: Cannot create an IPAMConfiguration resource "
                "with a name other than \"default\"; IPAM reads only default)", resource,
                ctx.at(settings, "metadata", "name"),
                "name it default", subject="name")
        highest = MAX_BLOCKS_PER_HOST.get(resource.api_version, MAX_BLOCKS_PER_HOST["projectcalico.org/v3"])
        for field, low, high in (("maxBlocksPerHost", 0, highest),
                                 ("ipCooldownSeconds", 0, MAX_IP_COOLDOWN_SECONDS)):
            value = settings.spec.get(field)
            if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
                bound = f"greater than or equal to {low}" if value < low else f"at most {high}"
                yield ctx.finding(
                    f"{resource}: {field} {value} is outside {low}..{high} (Calico: {field} = '{value}' "
                    f"(must be {bound}))",
                    resource, ctx.at(settings, "spec", field), f"use a value from {low} to {high}"
                    + ("; 0 means the default of 20 blocks" if field == "maxBlocksPerHost" else ""),
                    subject=field)
