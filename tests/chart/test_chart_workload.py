"""The Deployment and its companions: placement, hardening, probes, disruption budget, Service, RBAC."""

from __future__ import annotations

from typing import Any

import pytest
from chart_render import NAMESPACE, Manifest, find, is_exporter, kinds, render
from chart_scenarios import SCENARIOS


def pod_spec(objects: list[Manifest]) -> dict[str, Any]:
    return find(objects, "Deployment")["spec"]["template"]["spec"]


def container(objects: list[Manifest]) -> dict[str, Any]:
    return pod_spec(objects)["containers"][0]


def test_default_install_renders_exactly_these_objects(default_objects: list[Manifest]) -> None:
    assert kinds(o for o in default_objects if is_exporter(o)) == [
        "ClusterRole", "ClusterRoleBinding", "Deployment", "Service", "ServiceAccount"]
    assert kinds(o for o in default_objects if not is_exporter(o)) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Pod",
        "PodDisruptionBudget",
        "Secret",
        "Service",
        "ServiceAccount",
        "ValidatingWebhookConfiguration",
    ]
    namespaced = [
        o
        for o in default_objects
        if o["kind"] not in ("ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration")
    ]
    assert {o["metadata"]["namespace"] for o in namespaced} == {NAMESPACE}


def test_two_replicas_never_share_a_node(default_objects: list[Manifest]) -> None:
    deployment = find(default_objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    anti = pod_spec(default_objects)["affinity"]["podAntiAffinity"]
    assert "preferredDuringSchedulingIgnoredDuringExecution" not in anti
    (term,) = anti["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_rollout_never_needs_a_third_node(default_objects: list[Manifest]) -> None:
    strategy = find(default_objects, "Deployment")["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}


def test_host_network_by_default_with_host_dns(default_objects: list[Manifest]) -> None:
    spec = pod_spec(default_objects)
    assert spec["hostNetwork"] is True
    assert spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert container(default_objects)["ports"] == [
        {"name": "https", "containerPort": 19443, "protocol": "TCP"}
    ]


NETWORK_UNAVAILABLE = {
    "key": "node.kubernetes.io/network-unavailable",
    "operator": "Exists",
    "effect": "NoSchedule",
}


def test_host_network_pods_go_where_calico_is_down(default_objects: list[Manifest]) -> None:
    assert pod_spec(default_objects)["tolerations"] == [NETWORK_UNAVAILABLE]
    tolerations = pod_spec(render(SCENARIOS["everything-optional-on"]))["tolerations"]
    assert tolerations == [NETWORK_UNAVAILABLE, *SCENARIOS["everything-optional-on"]["tolerations"]]


def test_host_network_can_be_turned_off() -> None:
    spec = pod_spec(render(SCENARIOS["host-network-off"]))
    assert spec["hostNetwork"] is False
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert "tolerations" not in spec


def test_pod_is_hardened(default_objects: list[Manifest]) -> None:
    spec = pod_spec(default_objects)
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container(default_objects)["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert spec["priorityClassName"] == "system-cluster-critical"


def test_writable_tmp_is_the_only_writable_path(default_objects: list[Manifest]) -> None:
    mounts = {m["mountPath"]: m for m in container(default_objects)["volumeMounts"]}
    assert set(mounts) == {"/etc/ippool-validator/tls", "/tmp"}
    assert mounts["/etc/ippool-validator/tls"]["readOnly"] is True
    tmp = next(v for v in pod_spec(default_objects)["volumes"] if v["name"] == mounts["/tmp"]["name"])
    assert tmp["emptyDir"] == {"sizeLimit": "64Mi"}


def test_probes_use_the_health_routes_over_https(default_objects: list[Manifest]) -> None:
    webhook = container(default_objects)
    assert webhook["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "https", "scheme": "HTTPS"}
    assert webhook["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "https", "scheme": "HTTPS"}


def test_requests_and_limits_are_set(default_objects: list[Manifest]) -> None:
    assert container(default_objects)["resources"] == {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }


def test_serve_command_matches_the_server_contract(default_objects: list[Manifest]) -> None:
    webhook = container(default_objects)
    assert webhook["command"] == ["ippool-validator"]
    assert webhook["args"] == [
        "serve",
        "--tls-cert",
        "/etc/ippool-validator/tls/tls.crt",
        "--tls-key",
        "/etc/ippool-validator/tls/tls.key",
        "--port",
        "19443",
        "--state",
        "cluster",
        "--mode",
        "enforce",
        "--on-error",
        "deny",
    ]


def test_mode_and_on_error_reach_the_command() -> None:
    args = container(render({"webhook": {"mode": "warn", "onError": "allow"}, "port": 10999}))["args"]
    assert args[args.index("--mode") + 1] == "warn"
    assert args[args.index("--on-error") + 1] == "allow"
    assert args[args.index("--port") + 1] == "10999"


def test_policy_config_is_mounted_and_passed() -> None:
    objects = render(SCENARIOS["everything-optional-on"])
    config_map = find(objects, "ConfigMap", "ippool-validator-policy")
    assert config_map["data"][".ippool-validator.yaml"] == "rules:\n  pool-overlap:\n    severity: error\n"
    args = container(objects)["args"]
    assert args[-2:] == ["--config", "/etc/ippool-validator/policy/.ippool-validator.yaml"]
    mounts = {m["name"]: m["mountPath"] for m in container(objects)["volumeMounts"]}
    assert mounts["policy"] == "/etc/ippool-validator/policy"
    checksum = find(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/policy"]
    default_checksum = find(render(), "Deployment")["spec"]["template"]["metadata"]["annotations"][
        "checksum/policy"
    ]
    assert checksum != default_checksum


def test_existing_policy_config_map_is_used_as_is() -> None:
    objects = render({"policy": {"existingConfigMap": "site-policy", "config": {"ignored": True}}})
    assert "ConfigMap" not in kinds(objects)
    volume = next(v for v in pod_spec(objects)["volumes"] if v["name"] == "policy")
    assert volume["configMap"]["name"] == "site-policy"


def test_optional_pod_settings_are_passed_through() -> None:
    objects = render(SCENARIOS["everything-optional-on"])
    spec = pod_spec(objects)
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert spec["affinity"]["nodeAffinity"] == SCENARIOS["everything-optional-on"]["nodeAffinity"]
    assert "podAntiAffinity" in spec["affinity"]
    template = find(objects, "Deployment")["spec"]["template"]["metadata"]
    assert template["annotations"]["prometheus.io/scrape"] == "true"
    assert template["labels"]["team"] == "network"
    quota = find(objects, "ResourceQuota")
    assert quota["spec"]["scopeSelector"]["matchExpressions"] == [
        {"operator": "In", "scopeName": "PriorityClass", "values": ["system-cluster-critical"]}
    ]


def test_disruption_budget_keeps_one_pod(default_objects: list[Manifest]) -> None:
    pdb = find(default_objects, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert (
        pdb["spec"]["selector"]["matchLabels"]
        == find(default_objects, "Deployment")["spec"]["selector"]["matchLabels"]
    )
    assert "PodDisruptionBudget" not in kinds(render(SCENARIOS["optional-webhooks-off"]))


def test_service_targets_the_webhook_pods(default_objects: list[Manifest]) -> None:
    service = find(default_objects, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [
        {"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}
    ]
    pod_labels = find(default_objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


EXPECTED_READS = {
    ("crd.projectcalico.org", "ippools"),
    ("crd.projectcalico.org", "ipreservations"),
    ("crd.projectcalico.org", "ipamconfigs"),
    ("projectcalico.org", "ippools"),
    ("projectcalico.org", "ipreservations"),
    ("projectcalico.org", "ipamconfigurations"),
    ("operator.tigera.io", "installations"),
    ("", "nodes"),
}


def test_rbac_only_reads_what_the_webhook_needs(default_objects: list[Manifest]) -> None:
    role = find(default_objects, "ClusterRole")
    granted = set()
    for rule in role["rules"]:
        assert sorted(rule["verbs"]) == ["get", "list", "watch"]
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule
        granted |= {(group, resource) for group in rule["apiGroups"] for resource in rule["resources"]}
    assert granted == EXPECTED_READS
    assert not any("*" in group or "*" in resource for group, resource in granted)


def test_rbac_binds_the_pods_service_account(default_objects: list[Manifest]) -> None:
    binding = find(default_objects, "ClusterRoleBinding")
    account = find(default_objects, "ServiceAccount")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": find(default_objects, "ClusterRole")["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": NAMESPACE}
    ]
    assert pod_spec(default_objects)["serviceAccountName"] == account["metadata"]["name"]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_no_object_is_named_twice(scenario: str) -> None:
    names = [(o["kind"], o["metadata"]["name"]) for o in render(SCENARIOS[scenario])]
    assert len(names) == len(set(names))
