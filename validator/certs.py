"""Certificates for the webhook: a CA, and a serving certificate for the Service's DNS names, signed by it.

The API server calls the webhook at `https://NAME.NAMESPACE.svc` and checks the certificate against the
`caBundle` of the ValidatingWebhookConfiguration, so the serving certificate names all the forms of the
Service's name (`NAME`, `NAME.NS`, `NAME.NS.svc`, `NAME.NS.svc.cluster.local`) plus any extra DNS names or
IP addresses asked for. Keys are ECDSA P-256: small, and quick to handshake. The three files are written
as a set (see `write_bundle`), the key readable by its owner only, so a server that re-reads them on change
never sees half a file, and a failure leaves the old set whole.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVING_DAYS = 365


@dataclass(frozen=True)
class Bundle:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @property
    def ca_base64(self) -> str:
        """The caBundle value a ValidatingWebhookConfiguration wants."""
        return base64.b64encode(self.ca_pem).decode("ascii")


def service_names(service: str, namespace: str) -> list[str]:
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc",
            f"{service}.{namespace}.svc.cluster.local"]


def make_bundle(service: str, namespace: str, dns: Sequence[str] = (), ips: Sequence[str] = (),
                days: int = SERVING_DAYS) -> Bundle:
    """A new CA and a serving certificate for the Service (and the extra names), valid for `days`."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start = now - datetime.timedelta(minutes=5)  # tolerate clocks a little behind
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{service}.{namespace} webhook CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(now + datetime.timedelta(days=max(days, CA_DAYS)))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
          .add_extension(ca_ski, critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names = list(dict.fromkeys([*service_names(service, namespace), *dns]))
    alt: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
    alt += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{service}.{namespace}.svc")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return Bundle(
        ca.public_bytes(pem), cert.public_bytes(pem),
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def _key_usage(key_cert_sign: bool = False, crl_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, key_cert_sign=key_cert_sign, crl_sign=crl_sign,
                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                         key_agreement=False, encipher_only=False, decipher_only=False)


FILES = ("tls.crt", "tls.key", "ca.crt")  # the order they are renamed into place: the CA last
MODES = {"ca.crt": 0o644, "tls.crt": 0o644, "tls.key": 0o600}


class ExistingFiles(Exception):
    """The folder already holds a pair that writing would replace."""


def existing(out: Path) -> list[Path]:
    return [out / name for name in FILES if (out / name).exists()]


def _temporary(path: Path, data: bytes, mode: int) -> Path:
    """`data` in a new temporary file beside `path`, with `mode`, flushed to disk."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        os.unlink(temporary)
        raise
    return Path(temporary)


def _sync_folder(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_bundle(bundle: Bundle, out: Path, force: bool = False) -> dict[str, Path]:
    """ca.crt, tls.crt and tls.key in `out` (created if needed), all three or none.

    Without `force`, an existing file of the set raises ExistingFiles: a new CA silently replacing one in a
    caBundle would break the webhook. All three are first written to temporary files beside their targets and
    flushed; only then are they renamed into place, the serving pair first and the CA last, so that `ca.crt`
    never names a CA that did not sign the `tls.crt` beside it. If a rename fails, the files already renamed
    are put back from hard links of the old ones, so the old set stays whole. (Between the two renames of the
    pair a reader can meet a new certificate with the old key; `CertificateStore` then keeps the context it
    has and loads the pair once the key follows.)"""
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in sorted(FILES)}
    if not force and existing(out):
        raise ExistingFiles(", ".join(str(path) for path in existing(out)))
    data = {"ca.crt": bundle.ca_pem, "tls.crt": bundle.cert_pem, "tls.key": bundle.key_pem}
    temporaries: dict[str, Path] = {}
    backups: dict[str, Path] = {}
    try:
        for name in FILES:
            temporaries[name] = _temporary(paths[name], data[name], MODES[name])
        for name in FILES:
            if paths[name].exists():
                backups[name] = out / f".{name}.old-{secrets.token_hex(6)}"
                os.link(paths[name], backups[name])
        done: list[str] = []
        try:
            for name in FILES:
                os.replace(temporaries[name], paths[name])
                done.append(name)
        except BaseException:
            for name in reversed(done):
                if name in backups:
                    os.replace(backups[name], paths[name])
                else:
                    os.unlink(paths[name])
            raise
        _sync_folder(out)
    finally:
        for leftover in [*temporaries.values(), *backups.values()]:
            if os.path.lexists(leftover):
                os.unlink(leftover)
    return paths
