"""The three ways to get a serving certificate, and that the webhook configuration trusts the right CA."""

from __future__ import annotations

import base64
import ssl
import subprocess
import tempfile
from pathlib import Path

import pytest
from chart_render import NAMESPACE, HelmFailed, Manifest, find, kinds, render
from chart_scenarios import EXAMPLE_CA_PEM, SCENARIOS

SERVICE_DNS = f"ippool-validator.{NAMESPACE}.svc"


def ca_bundles(objects: list[Manifest]) -> set[str | None]:
    configuration = find(objects, "ValidatingWebhookConfiguration")
    return {w["clientConfig"].get("caBundle") for w in configuration["webhooks"]}


def tls_volume(objects: list[Manifest]) -> dict:
    volumes = find(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    return next(v for v in volumes if v["name"] == "tls")["secret"]


def test_generated_secret_is_trusted_by_the_webhook_configuration(default_objects: list[Manifest]) -> None:
    secret = find(default_objects, "Secret", "ippool-validator-tls")
    assert secret["type"] == "kubernetes.io/tls"
    assert set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}
    assert ca_bundles(default_objects) == {secret["data"]["ca.crt"]}
    assert tls_volume(default_objects)["secretName"] == "ippool-validator-tls"


def test_generated_certificate_is_valid_for_the_service_name(
    default_objects: list[Manifest], tmp_path: Path
) -> None:
    data = {k: base64.b64decode(v).decode() for k, v in find(default_objects, "Secret")["data"].items()}
    (tmp_path / "ca.crt").write_text(data["ca.crt"])
    (tmp_path / "tls.crt").write_text(data["tls.crt"])
    for name in (
        "ippool-validator",
        f"ippool-validator.{NAMESPACE}",
        SERVICE_DNS,
        f"{SERVICE_DNS}.cluster.local",
    ):
        result = subprocess.run(
            [
                "openssl",
                "verify",
                "-CAfile",
                str(tmp_path / "ca.crt"),
                "-verify_hostname",
                name,
                "-purpose",
                "sslserver",
                str(tmp_path / "tls.crt"),
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith(": OK")
    # and the key belongs to the certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    (tmp_path / "tls.key").write_text(data["tls.key"])
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")


def test_generated_certificate_is_not_valid_for_another_name(default_objects: list[Manifest]) -> None:
    data = {k: base64.b64decode(v).decode() for k, v in find(default_objects, "Secret")["data"].items()}
    with tempfile.TemporaryDirectory() as directory:
        Path(directory, "ca.crt").write_text(data["ca.crt"])
        Path(directory, "tls.crt").write_text(data["tls.crt"])
        result = subprocess.run(
            [
                "openssl",
                "verify",
                "-CAfile",
                f"{directory}/ca.crt",
                "-verify_hostname",
                "evil.example.com",
                f"{directory}/tls.crt",
            ],
            capture_output=True,
            text=True,
        )
    assert result.returncode != 0


def test_cert_manager_mode_builds_a_ca_and_injects_it() -> None:
    objects = render(SCENARIOS["tls-cert-manager"])
    assert "Secret" not in kinds(objects)
    assert ca_bundles(objects) == {None}
    configuration = find(objects, "ValidatingWebhookConfiguration")
    assert configuration["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": f"{NAMESPACE}/ippool-validator-tls"
    }
    selfsigned = find(objects, "Issuer", "ippool-validator-selfsigned")
    assert selfsigned["spec"] == {"selfSigned": {}}
    ca = find(objects, "Certificate", "ippool-validator-ca")
    assert ca["spec"]["isCA"] is True
    assert ca["spec"]["issuerRef"]["name"] == "ippool-validator-selfsigned"
    assert find(objects, "Issuer", "ippool-validator-ca")["spec"] == {
        "ca": {"secretName": ca["spec"]["secretName"]}
    }
    serving = find(objects, "Certificate", "ippool-validator-tls")
    assert serving["spec"]["secretName"] == tls_volume(objects)["secretName"] == "ippool-validator-tls"
    assert SERVICE_DNS in serving["spec"]["dnsNames"]
    assert serving["spec"]["issuerRef"] == {
        "name": "ippool-validator-ca",
        "kind": "Issuer",
        "group": "cert-manager.io",
    }
    assert serving["spec"]["privateKey"]["rotationPolicy"] == "Always"
    assert (serving["spec"]["duration"], serving["spec"]["renewBefore"]) == ("2160h", "720h")


def test_cert_manager_mode_can_use_an_existing_issuer() -> None:
    objects = render(SCENARIOS["tls-cert-manager-issuer"])
    assert [o["metadata"]["name"] for o in objects if o["kind"] in ("Issuer", "Certificate")] == [
        "ippool-validator-tls"
    ]
    serving = find(objects, "Certificate", "ippool-validator-tls")
    assert serving["spec"]["issuerRef"] == {"name": "corp-ca", "kind": "ClusterIssuer"}


def test_existing_secret_mode_uses_the_given_secret_and_ca() -> None:
    objects = render(SCENARIOS["tls-existing-secret"])
    assert "Secret" not in kinds(objects)
    assert "Certificate" not in kinds(objects)
    assert tls_volume(objects)["secretName"] == "webhook-tls"
    assert ca_bundles(objects) == {base64.b64encode(EXAMPLE_CA_PEM.encode()).decode()}


@pytest.mark.parametrize(
    ("existing_secret", "message"),
    [
        ({"name": "", "caBundle": EXAMPLE_CA_PEM}, "/tls/existingSecret/name"),
        ({"name": "webhook-tls", "caBundle": ""}, "/tls/existingSecret/caBundle"),
        ({"name": "webhook-tls", "caBundle": "not a pem"}, "/tls/existingSecret/caBundle"),
    ],
)
def test_existing_secret_mode_needs_a_name_and_a_ca(existing_secret: dict, message: str) -> None:
    with pytest.raises(HelmFailed, match=message):
        render({"tls": {"mode": "existingSecret", "existingSecret": existing_secret}})
