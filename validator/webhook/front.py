"""The TLS front: an asyncio server that holds connections cheaply and hands only whole requests to the app.

Why this design (issue 12): gunicorn's `gthread` worker gives each connection a thread from the moment it is
accepted, and neither the TLS handshake nor the header read has a deadline, so eight clients that connect and
say nothing (or send half a ClientHello) took every thread and froze `/validate` and `/healthz`. Here a
connection costs a coroutine and a TLS object while it handshakes, waits or trickles; the thread pool
(`--threads`) sees a request only once its head and body are read in full, so no number of idle, half-open or
slow clients can hold the capacity a real request needs. Every phase has a deadline (`Limits`):

- the TLS handshake (`handshake`), enforced by asyncio (`ssl_handshake_timeout`);
- a new connection's request head, counted from the end of the handshake (`header`): a client that
  connects and says nothing is closed then;
- a kept-alive connection's next request must start within `idle`, and its head be complete within
  `header` of its first byte;
- the body, and writing the answer, within `body`;
- bodies held in memory: at most `bodies_in_memory` x `max_body_bytes` per worker (`BodyBudget`);
- at most `max_connections` per worker: past it the longest-idle connection is closed to make room (a
  connection that is idle has no request in progress), so a flood of idle connections from many sources
  costs the oldest idle ones, never a request being answered.

The rejected alternatives (read in their sources, December 2026):
- gunicorn's gevent worker: one deadline (`keepalive`) serves both the idle wait and the request head, the
  handshake has none, and `worker_connections` greenlets can all be held by silent clients; it monkey-patches
  the whole process (the kubernetes client's watch threads too), and a CPU-bound judgment runs on the hub,
  so every other connection and the heartbeat wait until it ends. eventlet says new use is discouraged.
- uvicorn: `timeout_keep_alive` is reset by every byte received and nothing bounds a whole request head (its
  issue 157), and the Flask app would need an ASGI adapter.
- hypercorn (which also serves WSGI): a handshake and a keep-alive timeout, but no deadline for a whole
  request head either, so a client that trickles a byte at a time is never cut off.
This module is small, uses only the standard library, and keeps gunicorn as the process manager (see
`processes.py`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from string import hexdigits
from typing import Any

from ..model import DEFAULT_MAX_BODY_BYTES
from .certstore import CertificateStore
from .http1 import Answer, Head, HTTPError, call_app, environ, error_answer, parse_head, serialize

LOG = logging.getLogger("ippool_validator.front")
DRAIN_FACTOR = 4  # a refused body of up to 4x the limit is read and dropped, so the client sees the 413
HEX = frozenset(hexdigits.encode())
ReadError = (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError,
             ssl.SSLError)


@dataclass(frozen=True)
class Limits:
    """Deadlines (seconds) and sizes that bound what one connection can hold."""

    handshake: float = 5.0
    header: float = 5.0
    body: float = 10.0
    idle: float = 75.0  # longer than the API server's idle connection reuse (Go's 90 s is its own bound)
    max_header_bytes: int = 64 * 1024
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_connections: int = 1000
    bodies_in_memory: int = 8  # bodies of the largest size one worker holds at once (see BodyBudget)


class BodyBudget:
    """The bytes of request bodies a worker holds, bounded: past the bound, the connection that has been
    reading its body longest is closed (its bytes freed at once). A real client sends its body in a moment,
    so the one reading longest is the slowest sender; bodies already complete are never dropped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.held: dict[_Connection, int] = {}
        self.reading: dict[_Connection, None] = {}  # oldest first

    def charge(self, connection: _Connection, size: int) -> None:
        self.used += size
        self.held[connection] = self.held.get(connection, 0) + size
        while self.used > self.limit and self.reading:
            oldest = next(iter(self.reading))
            self.release(oldest)
            oldest.abort()
            if oldest is connection:
                raise ConnectionAbortedError("request bodies over the memory bound; the slowest was closed")

    def release(self, connection: _Connection) -> None:
        self.used -= self.held.pop(connection, 0)
        self.reading.pop(connection, None)


class _Connection:
    __slots__ = ("reader", "writer", "peer", "local")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.peer = _address(writer.get_extra_info("peername"))
        self.local = _address(writer.get_extra_info("sockname"))

    def abort(self) -> None:
        self.writer.transport.abort()


class Front:
    """Serves one WSGI app over TLS on already-bound listening sockets, in the running event loop."""

    def __init__(self, app: Callable[..., Iterable[bytes]], certs: CertificateStore, limits: Limits,
                 threads: int, multiprocess: bool = False) -> None:
        self.app, self.certs, self.limits = app, certs, limits
        self.multiprocess = multiprocess
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wsgi")
        self.connections: set[_Connection] = set()
        self.idle: dict[_Connection, None] = {}  # waiting for a request, oldest first
        self.servers: list[asyncio.base_events.Server] = []
        self.draining = False
        self.budget = BodyBudget(limits.max_body_bytes * limits.bodies_in_memory)

    async def start(self, sockets: Iterable[Any]) -> None:
        extra: dict[str, Any] = {"ssl_shutdown_timeout": self.limits.handshake} \
            if sys.version_info >= (3, 11) else {}
        for sock in sockets:
            self.servers.append(await asyncio.start_server(
                self._serve, sock=sock, ssl=self.certs.context(), limit=self.limits.max_header_bytes,
                ssl_handshake_timeout=self.limits.handshake, **extra))

    async def stop(self, grace: float) -> None:
        """Stop accepting, close idle connections now, and let requests in progress finish (up to `grace`)."""
        self.draining = True
        for server in self.servers:
            server.close()
        for connection in list(self.idle):
            connection.abort()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.connections and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for connection in list(self.connections):
            connection.abort()
        self.pool.shutdown(wait=False)

    def _admit(self, connection: _Connection) -> bool:
        if len(self.connections) >= self.limits.max_connections:
            oldest = next(iter(self.idle), None)
            if oldest is None:
                return False
            self.idle.pop(oldest)
            oldest.abort()
        self.connections.add(connection)
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(reader, writer)
        if not self._admit(connection):
            connection.abort()
            return
        graceful = False
        try:
            graceful = await self._requests(connection)
        except ReadError:
            pass
        except Exception:  # noqa: BLE001  (one connection's failure never reaches the loop)
            LOG.exception("connection from %s failed", connection.peer[0])
        finally:
            self.connections.discard(connection)
            self.idle.pop(connection, None)
            self.budget.release(connection)
            if graceful:
                writer.close()
            else:
                connection.abort()

    async def _requests(self, connection: _Connection) -> bool:
        """Answer requests until the connection ends; True when it ends with an answer to flush."""
        first = True
        while not self.draining:
            try:
                head = await self._read_head(connection, first)
                if head is None:
                    return False
                first = False
                self.budget.reading[connection] = None
                body, declared = await asyncio.wait_for(self._read_body(connection, head), self.limits.body)
                self.budget.reading.pop(connection, None)
            except HTTPError as err:
                await self._write(connection, error_answer(err.status, str(err)), False, False)
                return True
            refused = declared is not None
            answer = await self._call(head, body, declared, connection)
            keep = head.keep_alive and not refused and not self.draining
            del body
            self.budget.release(connection)
            await self._write(connection, answer, keep, head.method == "HEAD")
            if not keep:
                return True
        return False

    async def _read_head(self, connection: _Connection, first: bool) -> Head | None:
        """The next request's head; None when the client closed or stayed idle past its bound."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        self.idle[connection] = None
        try:
            start = await asyncio.wait_for(connection.reader.readexactly(1),
                                           self.limits.header if first else self.limits.idle)
        except ReadError:
            return None
        finally:
            self.idle.pop(connection, None)
        left = self.limits.header - (loop.time() - began) if first else self.limits.header
        try:
            rest = await asyncio.wait_for(connection.reader.readuntil(b"\r\n\r\n"), max(left, 0.001))
        except asyncio.LimitOverrunError:
            raise HTTPError(431, f"the request head is larger than {self.limits.max_header_bytes:,} bytes")\
                from None
        except asyncio.TimeoutError:
            raise HTTPError(408, "the request head did not arrive in time") from None
        return parse_head(start + rest[:-4])

    async def _read_body(self, connection: _Connection, head: Head) -> tuple[bytes, int | None]:
        """(body, None), or (b"", declared length) for a body over the limit (dropped, or never read)."""
        reader, limit = connection.reader, self.limits.max_body_bytes
        if head.chunked:
            return await self._read_chunked(connection, head)
        length = head.content_length or 0
        if length > limit:
            if not head.expect_continue and length <= limit * DRAIN_FACTOR:
                while length > 0:
                    length -= len(await reader.readexactly(min(length, 1 << 16)))
            return b"", head.content_length
        if head.expect_continue and length:
            connection.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return await self._read_exactly(connection, length), None

    async def _read_chunked(self, connection: _Connection, head: Head) -> tuple[bytes, int | None]:
        reader, limit = connection.reader, self.limits.max_body_bytes
        if head.expect_continue:
            connection.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        parts: list[bytes] = []
        total = 0
        while True:
            try:
                size_text = (await reader.readuntil(b"\r\n"))[:-2].split(b";", 1)[0].strip()
            except asyncio.LimitOverrunError:
                raise HTTPError(400, "a chunk-size line is too long") from None
            if not size_text or not set(size_text) <= HEX:
                raise HTTPError(400, "malformed chunk size")
            size = int(size_text, 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, dropped
                    pass
                return b"".join(parts), None
            total += size
            if total > limit:
                return b"", total
            parts.append(await self._read_exactly(connection, size))
            if await reader.readexactly(2) != b"\r\n":
                raise HTTPError(400, "malformed chunk")

    async def _read_exactly(self, connection: _Connection, size: int) -> bytes:
        """`size` bytes of a body, charged to the budget as they arrive."""
        parts: list[bytes] = []
        while size > 0:
            chunk = await connection.reader.read(min(size, 1 << 16))
            if not chunk:
                raise asyncio.IncompleteReadError(b"", size)
            self.budget.charge(connection, len(chunk))
            parts.append(chunk)
            size -= len(chunk)
        return b"".join(parts)

    async def _call(self, head: Head, body: bytes, declared: int | None, connection: _Connection) -> Answer:
        env = environ(head, body, declared, connection.local, connection.peer, self.multiprocess)
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, call_app, self.app, env)
        except Exception:  # noqa: BLE001  (the app answers its own errors; this is a bug in it)
            LOG.exception("the application failed on %s %s", head.method, head.target)
            return error_answer(500, "internal error")

    async def _write(self, connection: _Connection, answer: Answer, keep: bool, head_only: bool) -> None:
        connection.writer.write(serialize(answer, keep, head_only))
        if connection.writer.transport.get_write_buffer_size():
            await asyncio.wait_for(connection.writer.drain(), self.limits.body)


def _address(value: Any) -> tuple[str, int]:
    if isinstance(value, tuple) and len(value) >= 2:
        return str(value[0]), int(value[1])
    return "", 0
