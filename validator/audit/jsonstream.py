"""An incremental reader of `kubectl get ... -o json` output: a List's items one at a time, in bounded memory.

Why hand-rolled rather than ijson: the standard library's C scanner (`json.JSONDecoder.raw_decode`)
builds each item at the speed of `json.load`, and only the List's frame (`{"items": [` ... `]}`) needs
walking by hand, a few characters per item. ijson's pure-Python backends are several times slower than
`json.load`, and its C backend is only there when a yajl build is; this needs no dependency and keeps
one item (tens of KB) plus one read chunk in memory, where `json.load` of 555,000 handles holds them all.

Each object comes with the 1-based line it starts on, so findings point into the dump.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any

CHUNK = 1 << 20
_SKIP = re.compile(r"[ \t\n\r]*")


class JSONStreamError(ValueError):
    """The text is not JSON (or not a Kubernetes object or List): `line` locates it."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


class _Reader:
    def __init__(self, stream: IO[str], chunk: int) -> None:
        self.stream = stream
        self.chunk = chunk
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.lines_before = 0  # newlines before buf[0]
        self.counted = 0  # buf offset up to which newlines are counted into `lines_at_counted`
        self.lines_at_counted = 0
        self.decoder = json.JSONDecoder()

    def line(self) -> int:
        self.lines_at_counted += self.buf.count("\n", self.counted, self.pos)
        self.counted = self.pos
        return self.lines_before + self.lines_at_counted + 1

    def _more(self, want: int) -> bool:
        if self.eof:
            return False
        if self.pos > self.chunk:  # drop what is consumed, keeping the line count
            self.line()
            self.lines_before += self.lines_at_counted
            self.lines_at_counted = 0
            self.buf = self.buf[self.pos :]
            self.counted = self.pos = 0
        data = self.stream.read(max(self.chunk, want))
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end), without consuming it."""
        while True:
            self.pos = _SKIP.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more(self.chunk):
                return ""

    def expect(self, chars: str) -> str:
        found = self.peek()
        if not found or found not in chars:
            shown = repr(found) if found else "the end of the file"
            raise JSONStreamError(
                self.line(), f"not valid JSON: expected {' or '.join(map(repr, chars))}, found {shown}"
            )
        self.pos += 1
        return found

    def value(self) -> Any:
        """One JSON value from here, reading more text until it is complete."""
        self.peek()
        want = self.chunk
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as err:
                if self._more(want):  # maybe only cut short by the chunk: read on (doubling)
                    want *= 2
                    continue
                line = self.line() + self.buf.count("\n", self.pos, err.pos)
                raise JSONStreamError(line, f"not valid JSON: {err.msg}") from None
            number = not isinstance(value, (dict, list, str))
            if end == len(self.buf) and not self.eof and number and self._more(want):
                continue  # a number may go on in the next chunk
            self.pos = end
            return value


def objects(stream: IO[str], chunk: int = CHUNK) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, object) for every Kubernetes object in the stream: the items of each List, streamed, or each
    top-level object that is not a List. Several top-level values may follow one another."""
    reader = _Reader(stream, chunk)
    while reader.peek():
        yield from _top_level(reader)


def _top_level(reader: _Reader) -> Iterator[tuple[int, dict[str, Any]]]:
    start = reader.line()
    reader.expect("{")
    frame: dict[str, Any] = {}
    streamed = False
    if reader.peek() == "}":
        reader.pos += 1
        return
    while True:
        key = reader.value()
        if not isinstance(key, str):
            raise JSONStreamError(reader.line(), "not valid JSON: an object key must be a string")
        reader.expect(":")
        if key == "items" and reader.peek() == "[":
            streamed = True
            yield from _items(reader, frame)
        else:
            frame[key] = reader.value()
        if reader.expect(",}") == "}":
            break
    if not streamed:
        yield start, frame


def _items(reader: _Reader, frame: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """A List's items; calicoctl's typed Lists (`IPPoolList`) leave kind and apiVersion off the items."""
    reader.expect("[")
    if reader.peek() == "]":
        reader.pos += 1
        return
    while True:
        reader.peek()
        line = reader.line()
        item = reader.value()
        if isinstance(item, dict):
            kind = frame.get("kind")
            if "kind" not in item and isinstance(kind, str) and kind.endswith("List") and kind != "List":
                item.setdefault("kind", kind[:-4])
                item.setdefault("apiVersion", frame.get("apiVersion"))
            yield line, item
        if reader.expect(",]") == "]":
            return
