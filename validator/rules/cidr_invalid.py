"""The `cidr-invalid` rule: a pool's cidr that Calico refuses.

Calico's own check: the IPPool CEL rules (`api/pkg/apis/projectcalico/v3/ippool.go`) and `validateIPPoolSpec`
(`libcalico-go/lib/validator/v3/validator.go`), projectcalico/calico master 87c15906.
The CIDR is read once per pool, by `model.read_cidr` (`Pool.cidr_reading`).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CidrText, Finding
from .base import Context, rule

MAX_CIDR_LENGTH = 48


CALICO_CIDR = ("calicoctl and the Calico API server, all versions (libcalico-go clientv3 ippool.go: "
               "'IPPool CIDR must be a valid subnet', 'is not strictly masked'); the IPPool CRD since "
               "v3.32.0 (format cidr, maxLength 48) and its CEL rule since v3.33 ('IPPool CIDR must be "
               "strictly masked'); the operator (ValidatePools: 'IP pool CIDR is invalid'; it masks host "
               "bits silently)")


@rule("cidr-invalid", "error",
      "The pool's cidr is empty, not a CIDR, longer than 48 characters, or has host bits set",
      calico=CALICO_CIDR, scope="object", reads=("pools",))
def cidr_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks that `spec.cidr` is a network in CIDR notation (`10.244.0.0/16`), strictly masked (no host
    bits set), at most 48 characters, as Go's `net.ParseCIDR` reads it: no IPv6 zone
    (`2001:db8::%eth0/64`) and no netmask form (`10.0.0.0/255.255.0.0`), both of which Python accepts.
    A missing or non-string `cidr` is schema-invalid's to report.
    For the operator's Installation, host bits are not a fault: the operator masks the CIDR itself.
    A CIDR whose only fault is host bits still has a family and a range (`10.244.102.1/24` is an IPv4
    /24): the other rules judge it as its masked network, so its block size, encapsulation, ranges and
    its family's fallback are reported at once, not one fix at a time.

    ## Why is this bad?
    Calico refuses such a pool ("IPPool CIDR must be a valid subnet"; a bare address such as `10.0.0.1`
    is not a pool, even though Calico's stand-alone validator would read it as a /32; `10.244.1.0/16`
    has host bits set and Calico wants it "strictly masked"; the CRD allows 48 characters). A GitOps
    controller then loops on a failing apply, and the nodes it was meant for get no addresses.

    ## Example
    ```yaml
    spec:
      cidr: 10.244.1.0/16
    ```

    ## Use instead
    ```yaml
    spec:
      cidr: 10.244.0.0/16
    ```
    """
    for pool in ctx.pools():
        reading = pool.cidr_reading
        if reading is None:
            continue  # missing or of the wrong type: schema-invalid
        problem, hint = _cidr_problem(pool.spec["cidr"], reading)
        if problem:
            yield ctx.finding(f"{pool.resource}: {problem}", pool.resource,
                              ctx.at(pool, "spec", "cidr"), hint)


def _cidr_problem(text: str, reading: CidrText) -> tuple[str, str]:
    if text == "":
        return "spec.cidr is empty (Calico: IPPool CIDR must be specified)", \
            "set spec.cidr to a network such as 10.244.0.0/16"
    if len(text) > MAX_CIDR_LENGTH:
        return (f"spec.cidr is {len(text)} characters long; Calico's IPPool CRD allows at most "
                f"{MAX_CIDR_LENGTH}", "write the network in its short form, e.g. fd00:10::/64")
    if "%" in text:
        zone = text[text.index("%"):].split("/")[0]
        return (f"spec.cidr {text!r} has an IPv6 zone ({zone}); Calico cannot parse it (IPPool CIDR must be "
                "a valid subnet)", f"remove the zone: {text.replace(zone, '')}")
    if reading.shape == "invalid":
        return (f"spec.cidr {text!r} is not a CIDR (Calico: IPPool CIDR must be a valid subnet)",
                "write it as address/prefix, e.g. 10.244.0.0/16")
    if reading.address is not None:
        address = reading.address
        return (f"spec.cidr {text!r} is a single address, not a network (Calico: IPPool CIDR must be a "
                "valid subnet)",
                f"write it with a prefix length, e.g. {address}/{address.max_prefixlen} for one address")
    if reading.shape == "host-bits":
        return (f"spec.cidr {text!r} has host bits set (Calico: IPPool CIDR must be strictly masked)",
                f"did you mean {reading.network}?")
    return "", ""
