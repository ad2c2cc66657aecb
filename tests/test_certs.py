"""`ippool-validator certs`: a CA, a serving certificate for the Service's names, and the caBundle."""

from __future__ import annotations

import base64
import datetime
import stat
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID

from validator.cli import main


def run_certs(out: Path, *extra: str) -> str:
    result = CliRunner().invoke(main, ["certs", "--service", "webhook", "--namespace", "calico-system",
                                       "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_writes_a_ca_a_serving_certificate_and_a_private_key(tmp_path: Path) -> None:
    printed = run_certs(tmp_path / "out", "--dns", "localhost", "--ip", "127.0.0.1", "--ip", "::1")
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]  # no temporary files
    assert stat.S_IMODE((out / "tls.key").stat().st_mode) == 0o600
    assert base64.b64decode(printed.strip()) == (out / "ca.crt").read_bytes()

    ca = x509.load_pem_x509_certificate((out / "ca.crt").read_bytes())
    cert = x509.load_pem_x509_certificate((out / "tls.crt").read_bytes())
    key = load_pem_private_key((out / "tls.key").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    cert.verify_directly_issued_by(ca)
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usages
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [
        "webhook", "webhook.calico-system", "webhook.calico-system.svc",
        "webhook.calico-system.svc.cluster.local", "localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    lifetime = cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(days=364) < lifetime <= datetime.timedelta(days=365)


def test_each_run_makes_new_keys(tmp_path: Path) -> None:
    first = run_certs(tmp_path)
    key = (tmp_path / "tls.key").read_bytes()
    assert run_certs(tmp_path) != first
    assert (tmp_path / "tls.key").read_bytes() != key


def test_a_bad_ip_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["certs", "--service", "s", "--namespace", "n", "--out", str(tmp_path),
                                       "--ip", "localhost"])
    assert result.exit_code == 2
    assert "'localhost' is not an IP address" in result.output
    assert not list(tmp_path.iterdir())
