"""The `ipreservation-invalid` rule: IPReservation entries that are not CIDRs.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding, read_cidr
from .base import Context, rule


@rule("ipreservation-invalid", "error", "An IPReservation entry that is not a CIDR",
      calico="calicoctl and the Calico API server, all versions (validator/v3 'cidrs': must parse); the "
             "IPReservation CRD since v3.33 (items format cidr, so a bare address is refused)",
      scope="object", reads=("reservations",))
def ipreservation_invalid(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks each `spec.reservedCIDRs` entry of an IPReservation: it must be a CIDR (`10.0.1.0/24`,
    `cafe:f00d::/96`). Host bits are allowed, as in Calico. A bare address (`10.0.0.1`) is accepted by
    calicoctl but refused by the IPReservation CRD since v3.33, so it is reported too: `10.0.0.1/32`
    reserves one address on every version. Non-string entries and duplicates are schema-invalid's.

    ## Why is this bad?
    Calico rejects the reservation, and the addresses it was meant to keep free are handed to pods.

    ## Example
    ```yaml
    spec:
      reservedCIDRs: ["10.0.1.0/33", "10.0.0.1"]
    ```

    ## Use instead
    ```yaml
    spec:
      reservedCIDRs: ["10.0.1.0/24", "10.0.0.1/32"]
    ```
    """
    focus = ctx.focus
    for reservation in ctx.cluster.reservations:
        if focus is not None and reservation.resource not in focus.reservations | focus.objects:
            continue
        for index, text in enumerate(reservation.cidrs):
            if not isinstance(text, str):
                continue
            problem, hint = _reservation_problem(text)
            if problem:
                yield ctx.finding(f"{reservation.resource}: reservedCIDRs[{index}] {problem}",
                                  reservation.resource, ctx.at(reservation, "spec", "reservedCIDRs", index),
                                  hint, subject=str(index))


def _reservation_problem(text: str) -> tuple[str, str]:
    """Host bits are allowed in a reservation, as in Calico."""
    reading = read_cidr(text)
    if reading.shape == "invalid":
        return f"{text!r} is not a CIDR (Calico: reservedCIDRs must be valid CIDRs)", _zone_hint(text)
    if reading.address is not None:
        address = reading.address
        return (f"{text!r} is a single address; Calico's IPReservation CRD (v3.33+) wants CIDR notation",
                f"write {address}/{address.max_prefixlen}")
    return "", ""


def _zone_hint(text: str) -> str:
    return "remove the IPv6 zone (%...): Calico cannot parse it" if "%" in text else ""
