"""NOTES.txt: how to check the webhook, how to break glass, and what differs on old clusters."""

from __future__ import annotations

from chart_render import NAMESPACE, NEWEST_KUBERNETES, OLDEST_KUBERNETES, render_notes
from chart_scenarios import SCENARIOS


def test_notes_say_how_to_check_and_how_to_break_glass() -> None:
    notes = render_notes(kube_version=NEWEST_KUBERNETES)
    assert f"helm test ippool-validator -n {NAMESPACE}" in notes
    assert "kubectl apply --dry-run=server -f my-ippool.yaml" in notes
    assert "kubectl delete validatingwebhookconfiguration ippool-validator" in notes
    assert "--reuse-values --set webhook.failurePolicy=Ignore" in notes
    assert "Failure policies: pools, reservations, installations Fail; nodes Ignore. Timeout 5s." in notes


def test_notes_explain_missing_match_conditions_on_old_clusters() -> None:
    assert "WITHOUT matchConditions" in render_notes(kube_version=OLDEST_KUBERNETES)
    assert "Kubernetes v1.29.0, older than 1.30" in render_notes(kube_version=OLDEST_KUBERNETES)
    assert "matchConditions" not in render_notes(kube_version="1.30.0")


def test_notes_warn_when_the_webhook_depends_on_pod_networking() -> None:
    warning = "WARNING: hostNetwork is off and webhook.failurePolicy is Fail"
    assert warning in render_notes(SCENARIOS["host-network-off"])
    assert warning not in render_notes()
    assert warning not in render_notes({"hostNetwork": False, "webhook": {"failurePolicy": "Ignore"}})


def test_notes_name_the_generated_secret_only_when_generated() -> None:
    assert f"Secret {NAMESPACE}/ippool-validator-tls" in render_notes()
    assert "the chart generated a CA" not in render_notes(SCENARIOS["tls-cert-manager"])
