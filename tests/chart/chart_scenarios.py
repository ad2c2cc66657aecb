"""Values every chart test renders with: defaults, each TLS mode, hostNetwork off, optional parts on."""

from __future__ import annotations

from typing import Any

# A CA certificate's PEM shape; the chart only base64-encodes it, so it need not be a real certificate here.
EXAMPLE_CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBexample\n-----END CERTIFICATE-----\n"

SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "tls-cert-manager": {"tls": {"mode": "certManager"}},
    "tls-cert-manager-issuer": {
        "tls": {
            "mode": "certManager",
            "certManager": {"issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}},
        }
    },
    "tls-existing-secret": {
        "tls": {
            "mode": "existingSecret",
            "existingSecret": {"name": "webhook-tls", "caBundle": EXAMPLE_CA_PEM},
        }
    },
    "host-network-off": {"hostNetwork": False},
    "everything-optional-on": {
        "policy": {"config": {"rules": {"pool-overlap": {"severity": "error"}}}},
        "criticalPodQuota": {"enabled": True},
        "imagePullSecrets": [{"name": "regcred"}],
        "podAnnotations": {"prometheus.io/scrape": "true"},
        "podLabels": {"team": "network"},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [
            {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
        ],
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}
                        ]
                    }
                ]
            }
        },
        "serviceAccount": {"annotations": {"example.com/role": "webhook"}},
    },
    "optional-webhooks-off": {
        "webhook": {
            "reservations": {"enabled": False},
            "installations": {"enabled": False},
            "nodes": {"enabled": False},
        },
        "podDisruptionBudget": {"enabled": False},
    },
}
