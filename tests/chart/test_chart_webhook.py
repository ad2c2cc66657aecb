"""The ValidatingWebhookConfiguration: what is sent, to where, and what happens when the webhook is away."""

from __future__ import annotations

from typing import Any

import celpy
import pytest
from chart_render import (
    NAMESPACE,
    NEWEST_KUBERNETES,
    OLDEST_KUBERNETES,
    Manifest,
    WebhookRule,
    find,
    render,
    webhook_setup,
)
from chart_scenarios import SCENARIOS

ALL_OPERATIONS = ("CREATE", "UPDATE", "DELETE")


def webhooks(objects: list[Manifest]) -> dict[str, dict[str, Any]]:
    """Webhooks by the kind of thing they judge (the first label of their name)."""
    configuration = find(objects, "ValidatingWebhookConfiguration")
    return {w["name"].split(".", 1)[0]: w for w in configuration["webhooks"]}


def test_separate_webhooks_for_each_kind_of_resource(default_objects: list[Manifest]) -> None:
    assert list(webhooks(default_objects)) == ["ippools", "ipreservations", "installations", "nodes"]
    names = [w["name"] for w in webhooks(default_objects).values()]
    assert names[0] == f"ippools.ippool-validator.{NAMESPACE}.svc"


def test_pools_and_reservations_match_both_calico_api_groups() -> None:
    setup = webhook_setup()
    by_name = {w.name.split(".", 1)[0]: w for w in setup.webhooks}
    assert by_name["ippools"].rules == (
        WebhookRule("crd.projectcalico.org", "v1", "ippools", ALL_OPERATIONS, "Cluster"),
        WebhookRule("projectcalico.org", "v3", "ippools", ALL_OPERATIONS, "Cluster"),
    )
    assert by_name["ipreservations"].rules == (
        WebhookRule("crd.projectcalico.org", "v1", "ipreservations", ALL_OPERATIONS, "Cluster"),
        WebhookRule("projectcalico.org", "v3", "ipreservations", ALL_OPERATIONS, "Cluster"),
    )
    assert by_name["installations"].rules == (
        WebhookRule("operator.tigera.io", "v1", "installations", ("CREATE", "UPDATE"), "Cluster"),
    )
    assert by_name["nodes"].rules == (WebhookRule("", "v1", "nodes", ("CREATE", "UPDATE"), "Cluster"),)


def test_every_webhook_calls_validate_on_the_service(default_objects: list[Manifest]) -> None:
    service = find(default_objects, "Service")
    for webhook in webhooks(default_objects).values():
        assert webhook["clientConfig"]["service"] == {
            "name": service["metadata"]["name"],
            "namespace": NAMESPACE,
            "path": "/validate",
            "port": 443,
        }
    setup = webhook_setup()
    assert (setup.path, setup.service_port, setup.container_port, setup.listen_port) == (
        "/validate",
        443,
        19443,
        19443,
    )


def test_reviews_are_v1_and_side_effect_free(default_objects: list[Manifest]) -> None:
    for webhook in webhooks(default_objects).values():
        assert webhook["admissionReviewVersions"] == ["v1"]
        assert webhook["sideEffects"] == "None"
        assert webhook["matchPolicy"] == "Equivalent"


def test_failure_policies_and_timeouts(default_objects: list[Manifest]) -> None:
    policies = {
        kind: (w["failurePolicy"], w["timeoutSeconds"]) for kind, w in webhooks(default_objects).items()
    }
    assert policies == {
        "ippools": ("Fail", 5),
        "ipreservations": ("Fail", 5),
        "installations": ("Fail", 5),
        "nodes": ("Ignore", 5),
    }


def test_break_glass_value_relaxes_every_failing_webhook() -> None:
    objects = render(
        {"webhook": {"failurePolicy": "Ignore", "timeoutSeconds": 2, "nodes": {"timeoutSeconds": 1}}}
    )
    policies = {kind: (w["failurePolicy"], w["timeoutSeconds"]) for kind, w in webhooks(objects).items()}
    assert policies == {
        "ippools": ("Ignore", 2),
        "ipreservations": ("Ignore", 2),
        "installations": ("Ignore", 2),
        "nodes": ("Ignore", 1),
    }


def test_own_namespace_and_kube_system_are_never_sent(default_objects: list[Manifest]) -> None:
    for webhook in webhooks(default_objects).values():
        assert webhook["namespaceSelector"] == {
            "matchExpressions": [
                {
                    "key": "kubernetes.io/metadata.name",
                    "operator": "NotIn",
                    "values": [NAMESPACE, "kube-system"],
                },
            ]
        }
        # Cluster scope is what keeps namespaced objects (the webhook's own pods, leases, anything in
        # kube-system) out: a namespaceSelector does not filter cluster-scoped objects.
        assert {rule["scope"] for rule in webhook["rules"]} == {"Cluster"}


def test_more_namespaces_can_be_excluded() -> None:
    objects = render({"webhook": {"excludedNamespaces": ["kube-system", "tigera-operator", NAMESPACE]}})
    selector = webhooks(objects)["ippools"]["namespaceSelector"]["matchExpressions"][0]
    assert selector["values"] == [NAMESPACE, "kube-system", "tigera-operator"]


def test_optional_webhooks_can_be_turned_off() -> None:
    assert list(webhooks(render(SCENARIOS["optional-webhooks-off"]))) == ["ippools"]


@pytest.mark.parametrize("kube_version", ["1.30.0", NEWEST_KUBERNETES, None])
def test_nodes_webhook_has_match_conditions_from_1_30(kube_version: str | None) -> None:
    objects = render(kube_version=kube_version)
    nodes = webhooks(objects)["nodes"]
    (condition,) = nodes["matchConditions"]
    assert condition["name"] == "create-or-label-change"
    assert condition["expression"] == NODE_CONDITION
    assert all("matchConditions" not in w for kind, w in webhooks(objects).items() if kind != "nodes")


@pytest.mark.parametrize("kube_version", [OLDEST_KUBERNETES, "1.29.14"])
def test_nodes_webhook_has_no_match_conditions_before_1_30(kube_version: str) -> None:
    objects = render(kube_version=kube_version)
    assert all("matchConditions" not in w for w in webhooks(objects).values())
    assert webhooks(objects)["nodes"]["failurePolicy"] == "Ignore"


NODE_CONDITION = (
    "request.operation == 'CREATE' || "
    "(has(object.metadata.labels) ? object.metadata.labels : {}) != "
    "(has(oldObject.metadata.labels) ? oldObject.metadata.labels : {})"
)


def node(labels: dict[str, str] | None, **status: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "worker-1", "annotations": {"heartbeat": status.get("beat", "0")}}
    if labels is not None:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "Node", "metadata": metadata, "status": status}


ZONE_A = {"topology.kubernetes.io/zone": "a"}
ZONE_B = {"topology.kubernetes.io/zone": "b"}


@pytest.mark.parametrize(
    ("operation", "new", "old", "sent"),
    [
        pytest.param("CREATE", node(ZONE_A), None, True, id="create"),
        pytest.param("CREATE", node(None), None, True, id="create-without-labels"),
        pytest.param("UPDATE", node(ZONE_B), node(ZONE_A), True, id="label-value-changed"),
        pytest.param("UPDATE", node({**ZONE_A, "rack": "r1"}), node(ZONE_A), True, id="label-added"),
        pytest.param("UPDATE", node(ZONE_A), node(None), True, id="first-label"),
        pytest.param("UPDATE", node(None), node(ZONE_A), True, id="all-labels-removed"),
        pytest.param("UPDATE", node(ZONE_A, beat="2"), node(ZONE_A, beat="1"), False, id="heartbeat"),
        pytest.param("UPDATE", node(None, beat="2"), node(None, beat="1"), False, id="heartbeat-no-labels"),
        pytest.param("UPDATE", node({}), node(None), False, id="empty-labels-appear"),
    ],
)
def test_node_match_condition_sends_only_creates_and_label_changes(
    operation: str, new: dict[str, Any], old: dict[str, Any] | None, sent: bool
) -> None:
    expression = webhooks(render(kube_version=NEWEST_KUBERNETES))["nodes"]["matchConditions"][0]["expression"]
    environment = celpy.Environment()
    program = environment.program(environment.compile(expression))
    activation = {
        "request": celpy.json_to_cel({"operation": operation}),
        "object": celpy.json_to_cel(new),
        "oldObject": celpy.json_to_cel(old),
    }
    assert bool(program.evaluate(activation)) is sent
