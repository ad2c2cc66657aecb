"""HTTP/1.1 as the TLS front speaks it: the request head parsed strictly, the WSGI environ, the answer.

Strict because the webhook listens on every node: anything ambiguous (two different Content-Lengths, a
Content-Length beside a Transfer-Encoding, folded header lines, a coding other than chunked) is a 400 or
501 before the application sees it, so no request can be read two ways (request smuggling).
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer",
                        "proxy-connection"})
TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class HTTPError(Exception):
    """A request the front refuses itself: answered with `status` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Head:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]  # names lower-cased, in order
    content_length: int | None = None
    chunked: bool = False
    keep_alive: bool = True
    expect_continue: bool = False


def parse_head(raw: bytes) -> Head:
    """The request line and headers (up to, without, the blank line); HTTPError if malformed."""
    lines = raw.split(b"\r\n")
    while lines and not lines[0]:  # RFC 9112 2.2: ignore empty lines before a request line
        lines.pop(0)
    if not lines:
        raise HTTPError(400, "empty request")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[0] or not set(parts[0]) <= TOKEN or not parts[1]:
        raise HTTPError(400, "malformed request line")
    version = parts[2].decode("latin-1")
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HTTPError(505 if version.startswith("HTTP/") else 400, f"unsupported protocol {version!r}")
    head = Head(parts[0].decode("latin-1"), parts[1].decode("latin-1"), version, [],
                keep_alive=version == "HTTP/1.1")
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or not set(name) <= TOKEN:
            raise HTTPError(400, "malformed header line")
        head.headers.append((name.decode("latin-1").lower(), value.strip(b" \t").decode("latin-1")))
    _framing(head)
    return head


def _framing(head: Head) -> None:
    lengths = {value for name, value in head.headers if name == "content-length"}
    codings = [value.lower() for name, value in head.headers if name == "transfer-encoding"]
    if codings:
        if lengths:
            raise HTTPError(400, "both Content-Length and Transfer-Encoding")
        if [c.strip() for c in ",".join(codings).split(",")] != ["chunked"]:
            raise HTTPError(501, "only the chunked transfer coding is supported")
        head.chunked = True
    elif lengths:
        if len(lengths) > 1 or not next(iter(lengths)).isdigit() or not next(iter(lengths)).isascii():
            raise HTTPError(400, "invalid Content-Length")
        head.content_length = int(next(iter(lengths)))
    for name, value in head.headers:
        if name == "connection":
            options = {option.strip().lower() for option in value.split(",")}
            if "close" in options:
                head.keep_alive = False
            elif "keep-alive" in options:
                head.keep_alive = True
        elif name == "expect" and value.lower() == "100-continue":
            head.expect_continue = True


def environ(head: Head, body: bytes, declared_length: int | None, server: tuple[str, int],
            peer: tuple[str, int], multiprocess: bool) -> dict[str, Any]:
    """The WSGI (PEP 3333) environ of a request whose body was read in full (or refused: then `body` is
    empty and `declared_length` says how long it claimed to be)."""
    path, _, query = head.target.partition("?")
    if "://" in path:  # absolute-form (RFC 9112 3.2.2)
        parts = urlsplit(head.target)
        path, query = parts.path or "/", parts.query
    length = declared_length if declared_length is not None else len(body)
    env: dict[str, Any] = {
        "REQUEST_METHOD": head.method, "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"), "QUERY_STRING": query,
        "SERVER_NAME": server[0], "SERVER_PORT": str(server[1]), "SERVER_PROTOCOL": head.version,
        "REMOTE_ADDR": peer[0], "REMOTE_PORT": str(peer[1]), "CONTENT_LENGTH": str(length),
        "wsgi.version": (1, 0), "wsgi.url_scheme": "https", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": multiprocess,
        "wsgi.run_once": False, "wsgi.input_terminated": True,
    }
    for name, value in head.headers:
        if name == "content-type":
            env["CONTENT_TYPE"] = value
        elif name != "content-length":
            key = "HTTP_" + name.upper().replace("-", "_")
            env[key] = f"{env[key]},{value}" if key in env else value
    return env


Answer = tuple[int, list[tuple[str, str]], bytes]


def call_app(app: Callable[..., Iterable[bytes]], env: dict[str, Any]) -> Answer:
    """Run the WSGI application to the end of its answer (the webhook's answers are small)."""
    started: list[Any] = []
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info is not None and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [status, headers]
        return chunks.append

    result = app(env, start_response)
    try:
        chunks.extend(chunk for chunk in result if chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if not started:
        raise RuntimeError("the application returned without calling start_response")
    return int(started[0].split(" ", 1)[0]), started[1], b"".join(chunks)


def error_answer(status: int, message: str) -> Answer:
    import json

    body = json.dumps({"error": message, "status": status}, separators=(",", ":")).encode()
    return status, [("Content-Type", "application/json")], body


_date: list[Any] = [0, ""]


def http_date() -> str:
    now = int(time.time())
    if _date[0] != now:
        _date[:] = [now, formatdate(now, usegmt=True)]
    return str(_date[1])


def serialize(answer: Answer, keep_alive: bool, head_only: bool = False) -> bytes:
    status, headers, body = answer
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers
              if name.lower() not in HOP_BY_HOP and name.lower() != "content-length"]
    lines += [f"Content-Length: {len(body)}", f"Date: {http_date()}",
              "Connection: keep-alive" if keep_alive else "Connection: close"]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return data if head_only else data + body
