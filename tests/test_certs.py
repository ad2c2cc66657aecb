"""`ippool-validator certs`: a CA, a serving certificate for the Service's names, and the caBundle."""

from __future__ import annotations

import base64
import datetime
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID

from validator import certs as certs_module
from validator.certs import FILES, make_bundle, write_bundle
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
    assert run_certs(tmp_path, "--force") != first
    assert (tmp_path / "tls.key").read_bytes() != key


@pytest.mark.parametrize(("ip", "said"), [("localhost", "'localhost' is not an IP address"),
                                         ("10.0.0.300", "is not an IP address"),
                                         ("fe80::1%eth0", "has an IPv6 zone"),
                                         ("127.0.0.1/32", "is not an IP address")])
def test_a_bad_ip_is_a_usage_error(tmp_path: Path, ip: str, said: str) -> None:
    """Not an address, or one with an IPv6 zone (a certificate's IP address has none): exit 2, nothing
    written."""
    result = CliRunner().invoke(main, ["certs", "--service", "s", "--namespace", "n", "--out", str(tmp_path),
                                       "--ip", ip])
    assert result.exit_code == 2
    assert said in result.output and "--ip" in result.output
    assert not list(tmp_path.iterdir())


def contents(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.parametrize("present", [FILES, *[(name,) for name in FILES]])
def test_an_existing_set_is_not_replaced_without_force(tmp_path: Path, present: tuple[str, ...]) -> None:
    for name in present:
        (tmp_path / name).write_bytes(b"old " + name.encode())
    before = contents(tmp_path)
    result = CliRunner().invoke(main, ["certs", "--service", "s", "--namespace", "n", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "already holds" in result.output and "--force" in result.output
    for name in present:
        assert name in result.output
    assert "Traceback" not in result.output
    assert contents(tmp_path) == before


def test_force_replaces_the_whole_set(tmp_path: Path) -> None:
    run_certs(tmp_path)
    before = contents(tmp_path)
    run_certs(tmp_path, "--force")
    after = contents(tmp_path)
    assert sorted(after) == ["ca.crt", "tls.crt", "tls.key"]
    assert all(after[name] != before[name] for name in after)
    ca = x509.load_pem_x509_certificate(after["ca.crt"])
    x509.load_pem_x509_certificate(after["tls.crt"]).verify_directly_issued_by(ca)


class Injected(OSError):
    pass


def failing(real: object, fail_on: int) -> object:
    """`real`, except that its `fail_on`-th call (1-based) raises Injected."""
    calls = [0]

    def call(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        if calls[0] == fail_on:
            raise Injected(28, "No space left on device")
        return real(*args, **kwargs)  # type: ignore[operator]

    return call


@pytest.mark.parametrize(("function", "fail_on"), [
    ("fsync", 1), ("fsync", 3), ("link", 2), ("replace", 1), ("replace", 2), ("replace", 3)])
def test_a_failure_while_writing_leaves_the_old_set_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          function: str, fail_on: int) -> None:
    write_bundle(make_bundle("s", "n"), tmp_path)
    before = contents(tmp_path)
    monkeypatch.setattr(certs_module.os, function, failing(getattr(os, function), fail_on))
    with pytest.raises(Injected):
        write_bundle(make_bundle("s", "n"), tmp_path, force=True)
    monkeypatch.undo()
    assert contents(tmp_path) == before  # the same three files, no temporary or backup left beside them
    assert stat.S_IMODE((tmp_path / "tls.key").stat().st_mode) == 0o600


@pytest.mark.parametrize(("function", "fail_on"), [("fsync", 2), ("replace", 2), ("replace", 3)])
def test_a_failed_first_write_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               function: str, fail_on: int) -> None:
    monkeypatch.setattr(certs_module.os, function, failing(getattr(os, function), fail_on))
    with pytest.raises(Injected):
        write_bundle(make_bundle("s", "n"), tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_write_failure_is_a_message_not_a_traceback(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(certs_module.os, "replace", failing(os.replace, 2))
    result = CliRunner().invoke(main, ["certs", "--service", "s", "--namespace", "n", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "cannot write the certificates" in result.output and "No space left" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert list(tmp_path.iterdir()) == []
