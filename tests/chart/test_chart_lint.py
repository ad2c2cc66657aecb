"""`helm lint --strict` over every scenario, and the Kubernetes versions the chart accepts."""

from __future__ import annotations

import pytest
import yaml
from chart_render import CHART_DIR, NEWEST_KUBERNETES, OLDEST_KUBERNETES, HelmFailed, find, lint, render
from chart_scenarios import SCENARIOS


@pytest.mark.parametrize("kube_version", [None, OLDEST_KUBERNETES, NEWEST_KUBERNETES])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_chart_lints_strictly(scenario: str, kube_version: str | None) -> None:
    output = lint(SCENARIOS[scenario], kube_version)
    assert "1 chart(s) linted, 0 chart(s) failed" in output
    assert "[WARNING]" not in output
    assert "[ERROR]" not in output


def test_chart_states_the_oldest_supported_kubernetes() -> None:
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert chart["kubeVersion"] == ">=1.29.0-0"
    assert OLDEST_KUBERNETES == "1.29.0"


def test_chart_refuses_kubernetes_older_than_supported() -> None:
    with pytest.raises(HelmFailed, match="incompatible with Kubernetes v1.28.15"):
        render(kube_version="1.28.15")


def test_provider_suffixed_versions_count_as_their_release() -> None:
    objects = render(kube_version="1.30.4-eks-a737599")
    nodes = find(objects, "ValidatingWebhookConfiguration")["webhooks"][-1]
    assert nodes["rules"][0]["resources"] == ["nodes"]
    assert len(nodes["matchConditions"]) == 1


def test_image_tag_follows_app_version() -> None:
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert values["image"]["tag"] == chart["appVersion"]
    container = find(render(), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"ippool-validator:{chart['appVersion']}"
