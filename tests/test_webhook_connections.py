"""Idle, half-open and slow connections never starve the webhook (issue 12, slowloris), over real TLS.

`ippool-validator serve` runs with short bounds (2 s handshake, head and body; 3 s keep-alive idle) so that
the test sees them enforced in a few seconds. Hundreds of hostile connections are held open, from several
loopback source addresses (127.0.0.2-9, all to 127.0.0.1): TLS connections that finish the handshake and
send nothing, TCP connections that send part of a real ClientHello, requests whose head stops half-way,
bodies that trickle a byte at a time, and kept-alive connections that fall silent after one request. While
they are all held, a real AdmissionReview on /validate and /healthz must each be answered within a second;
afterwards every hostile connection must have been closed by the server, not before its bound and not
long after it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import selectors
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.webhook_support import Server, pool, review, running_server

HANDSHAKE, HEADER, BODY, IDLE = 2.0, 2.0, 2.0, 3.0
BOUNDS = ["--handshake-timeout", str(HANDSHAKE), "--header-timeout", str(HEADER),
          "--body-timeout", str(BODY), "--idle-timeout", str(IDLE)]
SOURCES = [f"127.0.0.{n}" for n in range(2, 10)]
STATE = ["--state", str(Path(__file__).parent / "fixtures" / "webhook" / "state")]
# How long after its bound a connection may stay open on a loaded, shared machine: the server starts a clock
# when it has finished a handshake, which under load can be a second or two after the client has.
SLACK = 5.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("connections"), args=[*STATE, *BOUNDS]) as running:
        yield running


@dataclass
class Held:
    kind: str
    sock: socket.socket
    bound: float
    opened: float
    closed: float | None = None


def raw(server: Server, n: int) -> socket.socket:
    sock = socket.socket()
    sock.bind((SOURCES[n % len(SOURCES)], 0))
    sock.settimeout(5)
    sock.connect(("127.0.0.1", server.port))
    return sock


def tls(server: Server, n: int) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(server.ca))
    return context.wrap_socket(raw(server, n), server_hostname="localhost")


def client_hello_prefix(size: int) -> bytes:
    """The first `size` bytes of a real TLS ClientHello, as a client that stalls mid-handshake sends them."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    hello = outgoing.read()
    assert len(hello) > size
    return hello[:size]


def open_hostile(server: Server) -> list[Held]:
    held: list[Held] = []

    def add(kind: str, sock: socket.socket, bound: float) -> None:
        held.append(Held(kind, sock, bound, time.monotonic()))

    for n in range(100):  # handshake done, then nothing
        add("idle after handshake", tls(server, n), HEADER)
    for n in range(50):  # a few bytes of a ClientHello
        sock = raw(server, n)
        sock.sendall(client_hello_prefix(6 if n % 2 else 100))
        add("partial ClientHello", sock, HANDSHAKE)
    for n in range(30):  # a head that stops half-way
        sock = tls(server, n)
        sock.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n")
        add("partial head", sock, HEADER)
    for n in range(30):  # a body that trickles (see `trickle`)
        sock = tls(server, n)
        sock.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000\r\n\r\n{")
        add("slow body", sock, BODY)
    for n in range(20):  # one answered request, then silence on the kept-alive connection
        sock = tls(server, n)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200") and b"keep-alive" in answer.lower(), answer
        add("idle keep-alive", sock, IDLE)
    return held


def timed(server: Server, method: str, path: str, body: bytes | None = None) -> tuple[float, int, bytes]:
    began = time.monotonic()
    connection = server.connection(timeout=5)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        data = answer.read()
    finally:
        connection.close()
    return time.monotonic() - began, answer.status, data


def watch_until_closed(held: list[Held], timeout: float) -> None:
    """Record when the server closes each connection; keep the slow bodies trickling meanwhile."""
    selector = selectors.DefaultSelector()
    for item in held:
        item.sock.setblocking(False)
        selector.register(item.sock, selectors.EVENT_READ, item)
    deadline = time.monotonic() + timeout
    next_trickle = time.monotonic()
    while selector.get_map() and time.monotonic() < deadline:
        if time.monotonic() >= next_trickle:
            next_trickle += 0.3
            for item in held:
                if item.kind == "slow body" and item.closed is None:
                    with contextlib.suppress(OSError, ssl.SSLError):
                        item.sock.send(b" ")
        for key, _ in selector.select(0.05):
            item = key.data
            try:
                while item.sock.recv(65536):
                    pass  # a 408 for a partial head comes before the close
            except (ssl.SSLWantReadError, BlockingIOError):
                continue
            except (OSError, ssl.SSLError):
                pass
            item.closed = time.monotonic()
            selector.unregister(item.sock)
    selector.close()


def test_hundreds_of_idle_and_half_open_connections_do_not_delay_requests(server: Server) -> None:
    held = open_hostile(server)
    assert len(held) >= 200
    try:
        for n in range(4):
            body = json.dumps(review("CREATE", pool(f"legit-{n}", f"10.77.{n}.0/24", 'rack == "1"'))).encode()
            took, status, data = timed(server, "POST", "/validate", body)
            assert status == 200 and took < 1.0, (took, status, data)
            assert json.loads(data)["response"]["allowed"] is True
            took, status, _ = timed(server, "GET", "/healthz")
            assert status == 200 and took < 1.0, took
        watch_until_closed(held, max(HANDSHAKE, HEADER, BODY, IDLE) + SLACK + 2)
        for item in held:
            assert item.closed is not None, f"a {item.kind} connection was never closed"
            lived = item.closed - item.opened
            assert item.bound - 0.3 <= lived <= item.bound + SLACK, (item.kind, lived)
        took, status, _ = timed(server, "GET", "/healthz")
        assert status == 200 and took < 1.0
    finally:
        for item in held:
            item.sock.close()


def test_past_the_connection_cap_the_longest_idle_connection_makes_room(tmp_path: Path) -> None:
    with running_server(tmp_path, args=[*STATE, "--max-connections", "40"]) as capped:
        held = [tls(capped, n) for n in range(120)]
        try:
            took, status, _ = timed(capped, "GET", "/healthz")
            assert status == 200 and took < 1.0
            time.sleep(0.3)
            closed = closed_among(held)
            assert closed >= 120 - 40 + 1  # the oldest went first, to make room for the newer and the request
            assert held[-1].fileno() != -1
        finally:
            for sock in held:
                sock.close()


def test_a_request_head_over_the_size_limit_gets_a_431(server: Server) -> None:
    connection = server.connection()
    try:
        connection.request("GET", "/healthz", headers={"X-Padding": "a" * 70_000})
        answer = connection.getresponse()
        assert answer.status == 431
        assert json.loads(answer.read())["status"] == 431
    except (ConnectionError, http.client.HTTPException) as err:  # pragma: no cover
        pytest.fail(f"no 431 answer: {err!r}")
    finally:
        connection.close()


def exchange(server: Server, data: bytes) -> bytes:
    """Send raw bytes on a TLS connection and read until the server closes it or goes quiet."""
    with tls(server, 0) as sock:
        sock.sendall(data)
        sock.settimeout(3)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (TimeoutError, OSError):
            pass
        return answer


def test_a_chunked_body_is_read_and_judged(server: Server) -> None:
    body = json.dumps(review("CREATE", pool("chunked", "10.78.0.0/24", 'rack == "1"'))).encode()
    parts = [body[i:i + 100] for i in range(0, len(body), 100)]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"
    answer = exchange(server, b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
                              b"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks)
    head, _, data = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answer
    assert json.loads(data)["response"]["allowed"] is True


@pytest.mark.parametrize(("head", "status"), [
    (b"POST /validate HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"400"),
    (b"POST /validate HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n", b"400"),
    (b"POST /validate HTTP/1.1\r\nContent-Length: -5\r\n", b"400"),
    (b"POST /validate HTTP/1.1\r\nContent-Length: 0x10\r\n", b"400"),
    (b"POST /validate HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n", b"501"),
    (b"POST /validate HTTP/1.1\r\nX-Folded: a\r\n continued\r\n", b"400"),
    (b"POST /validate HTTP/2.0\r\n", b"505"),
    (b"POST  /validate HTTP/1.1\r\n", b"400"),
    (b"GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"400"),
], ids=["cl-and-te", "two-lengths", "negative-length", "hex-length", "gzip", "folded", "http2", "two-spaces",
        "bad-chunk-size"])
def test_ambiguous_framing_is_refused_and_the_connection_closed(server: Server, head: bytes,
                                                                status: bytes) -> None:
    answer = exchange(server, head + (b"" if head.endswith(b"zz\r\n") else b"\r\n"))
    assert answer.startswith(b"HTTP/1.1 " + status), answer
    assert b"connection: close" in answer.lower()


def test_sigterm_lets_the_request_in_progress_finish(tmp_path: Path) -> None:
    with running_server(tmp_path, args=STATE) as running:
        body = json.dumps(review("CREATE", pool("late", "10.79.0.0/24", 'rack == "1"'))).encode()
        sock = tls(running, 0)
        idle = tls(running, 1)
        head = (b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body))
        sock.sendall(head + body[:10])
        time.sleep(0.3)
        running.process.terminate()
        time.sleep(0.5)
        sock.sendall(body[10:])
        sock.settimeout(5)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200") and b"connection: close" in answer.lower(), answer
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["response"]["allowed"] is True
        idle.settimeout(5)
        assert idle.recv(1) == b""  # an idle connection is closed at once, not kept until the grace ends
        assert running.process.wait(timeout=10) == 0
        sock.close()
        idle.close()


def test_an_absolute_form_target_and_a_chunk_size_line_over_the_limit(server: Server) -> None:
    answer = exchange(server, b"GET https://localhost/healthz?x=1 HTTP/1.1\r\nHost: localhost\r\n"
                              b"Connection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200"), answer
    answer = exchange(server, b"POST /validate HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked"
                              b"\r\n\r\n" + b"1" * 70_000 + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:100]
    assert "Traceback" not in server.logs()


def closed_among(socks: list[ssl.SSLSocket]) -> int:
    closed = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            closed += sock.recv(1) == b""
        except (ssl.SSLWantReadError, BlockingIOError):
            pass
        except (OSError, ssl.SSLError):
            closed += 1
    return closed


def test_bodies_in_memory_are_bounded_and_the_slowest_senders_go(tmp_path: Path) -> None:
    """--max-body-bytes 64 KiB: a worker holds at most 8 x 64 KiB of bodies; 30 clients that each send
    60,000 bytes of a 65,000-byte body and stall would hold 1.8 MB. All but 8 must be closed (those reading
    longest first), and a real request still gets its answer."""
    with running_server(tmp_path, args=[*STATE, "--max-body-bytes", "65536"]) as server:
        held = []
        try:
            for n in range(30):
                sock = tls(server, n)
                sock.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
                             b"\r\nContent-Length: 65000\r\n\r\n" + b" " * 60_000)
                held.append(sock)
            deadline = time.monotonic() + 5
            while closed_among(held) < 22 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.3)
            assert closed_among(held) == 22
            assert closed_among(held[:22]) == 22  # the first to start reading were the first to go
            body = json.dumps(review("CREATE", pool("after-flood", "10.80.0.0/24", 'rack == "1"'))).encode()
            took, status, data = timed(server, "POST", "/validate", body)
            assert status == 200 and took < 1.0, (took, data)
        finally:
            for sock in held:
                sock.close()
