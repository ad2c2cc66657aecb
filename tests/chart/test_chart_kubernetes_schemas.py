"""Every rendered object is valid, strictly (unknown fields fail), for the oldest and newest supported
Kubernetes, checked offline against the schemas kubernetes-validate ships."""

from __future__ import annotations

import copy
import re
from typing import Any

import kubernetes_validate
import pytest
from chart_render import NEWEST_KUBERNETES, OLDEST_KUBERNETES, Manifest, find, render
from chart_scenarios import SCENARIOS

# cert-manager's kinds are CRDs with no schema in kubernetes-validate:
# test_cert_manager_objects_are_well_formed checks them by hand. Every other kind must validate.
NOT_KUBERNETES = {("cert-manager.io/v1", "Certificate"), ("cert-manager.io/v1", "Issuer")}


def validate(manifest: Manifest, kube_version: str) -> None:
    kubernetes_validate.validate(manifest, kube_version, strict=True)


def test_kubernetes_validate_has_schemas_for_the_supported_range() -> None:
    available = kubernetes_validate.utils.all_versions()
    assert available[-1] == NEWEST_KUBERNETES
    assert OLDEST_KUBERNETES in available


@pytest.mark.parametrize("kube_version", [OLDEST_KUBERNETES, NEWEST_KUBERNETES])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_object_validates_strictly(scenario: str, kube_version: str) -> None:
    objects = render(SCENARIOS[scenario], kube_version)
    checked = 0
    for manifest in objects:
        if (manifest["apiVersion"], manifest["kind"]) in NOT_KUBERNETES:
            continue
        try:
            validate(manifest, kube_version)
        except kubernetes_validate.ValidationError as invalid:
            path = "/".join(str(p) for p in invalid.absolute_path)
            pytest.fail(f"{manifest['kind']}/{manifest['metadata']['name']} at {path}: {invalid.message}")
        checked += 1
    assert checked >= 7


def test_strict_validation_refuses_an_unknown_field() -> None:
    deployment = copy.deepcopy(find(render(), "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="securityContxt"):
        validate(deployment, OLDEST_KUBERNETES)


def test_strict_validation_refuses_a_wrong_type() -> None:
    configuration = copy.deepcopy(find(render(), "ValidatingWebhookConfiguration"))
    configuration["webhooks"][0]["timeoutSeconds"] = "5"
    with pytest.raises(kubernetes_validate.ValidationError, match="'5' is not of type 'integer'"):
        validate(configuration, NEWEST_KUBERNETES)


GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(h|m|s|ms))+$")
DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def assert_well_formed_certificate(spec: dict[str, Any]) -> None:
    allowed = {
        "secretName",
        "commonName",
        "dnsNames",
        "duration",
        "renewBefore",
        "usages",
        "privateKey",
        "issuerRef",
        "isCA",
    }
    assert set(spec) <= allowed
    assert DNS_NAME.match(spec["secretName"])
    assert set(spec["issuerRef"]) <= {"name", "kind", "group"} and spec["issuerRef"]["name"]
    assert all(DNS_NAME.match(name) for name in spec.get("dnsNames", []))
    for field in ("duration", "renewBefore"):
        assert field not in spec or GO_DURATION.match(spec[field])
    assert set(spec.get("privateKey", {})) <= {"algorithm", "size", "rotationPolicy", "encoding"}
    assert set(spec.get("usages", [])) <= {"server auth", "digital signature", "key encipherment"}


@pytest.mark.parametrize("scenario", ["tls-cert-manager", "tls-cert-manager-issuer"])
def test_cert_manager_objects_are_well_formed(scenario: str) -> None:
    objects = render(SCENARIOS[scenario])
    certificates = [o for o in objects if o["kind"] == "Certificate"]
    assert certificates
    for manifest in objects:
        if (manifest["apiVersion"], manifest["kind"]) not in NOT_KUBERNETES:
            continue
        assert set(manifest) == {"apiVersion", "kind", "metadata", "spec"}
        if manifest["kind"] == "Certificate":
            assert_well_formed_certificate(manifest["spec"])
        else:
            assert list(manifest["spec"]) in (["selfSigned"], ["ca"])
