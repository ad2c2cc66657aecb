"""The webhook's HTTP surface and the resources it judges, as data.

The Helm chart renders a ValidatingWebhookConfiguration and probes from the same facts; a chart test compares
them with these constants, so the two cannot drift apart silently.
"""

from __future__ import annotations

VALIDATE_PATH = "/validate"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"

ADMISSION_API_VERSION = "admission.k8s.io/v1"
CREATE, UPDATE, DELETE = "CREATE", "UPDATE", "DELETE"
ALL_OPERATIONS = (CREATE, UPDATE, DELETE)

# (API group, version, resource, operations). A ValidatingWebhookConfiguration may send anything else too:
# it is allowed untouched.
JUDGED: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("crd.projectcalico.org", "v1", "ippools", ALL_OPERATIONS),
    ("projectcalico.org", "v3", "ippools", ALL_OPERATIONS),
    ("crd.projectcalico.org", "v1", "ipreservations", ALL_OPERATIONS),
    ("projectcalico.org", "v3", "ipreservations", ALL_OPERATIONS),
    ("operator.tigera.io", "v1", "installations", (CREATE, UPDATE)),
    ("", "v1", "nodes", (CREATE, UPDATE)),
]

# The kinds behind those resources, by (group, kind): what a request's `kind` field says.
JUDGED_KINDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("crd.projectcalico.org", "IPPool"): ALL_OPERATIONS,
    ("projectcalico.org", "IPPool"): ALL_OPERATIONS,
    ("crd.projectcalico.org", "IPReservation"): ALL_OPERATIONS,
    ("projectcalico.org", "IPReservation"): ALL_OPERATIONS,
    ("operator.tigera.io", "Installation"): (CREATE, UPDATE),
    ("", "Node"): (CREATE, UPDATE),
}
