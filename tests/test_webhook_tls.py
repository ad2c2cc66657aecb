"""HTTPS only, TLS 1.2 or newer, and certificates rotated on disk without a restart."""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import socket
import ssl
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.webhook_support import Server, make_certs, running_server, wait_until


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("tls")
    make_certs(tmp / "certs")
    with running_server(tmp, certs=tmp / "certs") as running:
        yield running


def served_certificate(server: Server, cafile: Path) -> bytes:
    context = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        certificate = tls.getpeercert(binary_form=True)
        assert certificate is not None
        return certificate


def test_the_server_speaks_tls_1_2_or_newer_only(server: Server) -> None:
    context = ssl.create_default_context(cafile=str(server.ca))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(str(server.ca))
    try:
        with warnings.catch_warnings():  # deprecated, which is the point: the server must refuse it
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that this client really offers TLS 1.1
    except (ValueError, ssl.SSLError):
        pytest.skip("this Python's OpenSSL cannot even offer TLS 1.1")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw, pytest.raises(ssl.SSLError):
        old.wrap_socket(raw, server_hostname="localhost")


def test_plain_http_is_not_served(server: Server) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", "/healthz")
        answer = connection.getresponse()
        assert answer.status == 400  # never the endpoint
    except (ConnectionError, http.client.HTTPException, OSError):
        pass
    finally:
        connection.close()


def test_the_certificate_names_the_service_and_chains_to_the_ca(server: Server) -> None:
    for name in ("localhost", "127.0.0.1"):
        context = ssl.create_default_context(cafile=str(server.ca))
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=name) as tls:
            names = {value for _, value in tls.getpeercert()["subjectAltName"]}  # type: ignore[index]
    assert {"ippool-validator", "ippool-validator.test", "ippool-validator.test.svc",
            "ippool-validator.test.svc.cluster.local", "localhost", "127.0.0.1"} <= names


def test_rotated_certificate_files_are_served_without_a_restart(server: Server, tmp_path: Path) -> None:
    served = server.ca.parent
    before = hashlib.sha256(served_certificate(server, server.ca)).hexdigest()
    make_certs(tmp_path / "next")
    for name in ("tls.crt", "tls.key"):  # as a Secret volume update would: replace, not rewrite in place
        shutil.copy(tmp_path / "next" / name, served / f".{name}.new")
        os.replace(served / f".{name}.new", served / name)
    new_ca = tmp_path / "next" / "ca.crt"

    def rotated() -> bool:
        try:
            return hashlib.sha256(served_certificate(server, new_ca)).hexdigest() != before
        except (ssl.SSLError, OSError):
            return False

    wait_until(rotated, 15, lambda: f"the new certificate was not served:\n{server.logs()}")
    with pytest.raises(ssl.SSLError):
        served_certificate(server, server.ca)  # the old CA no longer vouches for what is served
    assert server.process.poll() is None
    assert "Booting worker" in server.logs() and server.logs().count("Booting worker") == 1
