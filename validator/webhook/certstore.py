"""The serving certificate: an SSLContext for a cert/key pair on disk, reloaded when the files change.

`CertificateStore` checks the files' identity (inode, size, mtime) at most once a second; when they changed
it loads a new context (keeping the old one if the new files do not load, e.g. between the writes of cert
and key). The context's SNI callback switches a handshake in progress to the newest context, so a server
that builds its listener with one context still serves rotated files. Kubernetes Secret volumes swap both
files at once, so no restart is ever needed.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from typing import Any

LOG = logging.getLogger("ippool_validator.server")
CHECK_INTERVAL = 1.0


class CertificateStore:
    """The serving SSLContext for a cert/key pair on disk, reloaded when the files change."""

    def __init__(self, certfile: str, keyfile: str, check_interval: float = CHECK_INTERVAL) -> None:
        self.certfile, self.keyfile = certfile, keyfile
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None
        self._stamp: tuple[Any, ...] = ()
        self._checked = 0.0
        self.loads = 0

    def _files_stamp(self) -> tuple[Any, ...]:
        stamp: list[Any] = []
        for path in (self.certfile, self.keyfile):
            info = os.stat(path)
            stamp += [info.st_ino, info.st_size, info.st_mtime_ns]
        return tuple(stamp)

    def load(self) -> ssl.SSLContext:
        """A new context from the files (raises ssl.SSLError or OSError if they do not load)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.options |= ssl.OP_NO_COMPRESSION
        context.load_cert_chain(self.certfile, self.keyfile)
        context.sni_callback = self._sni
        return context

    def context(self) -> ssl.SSLContext:
        now = time.monotonic()
        if self._context is not None and now - self._checked < self.check_interval:
            return self._context
        with self._lock:
            if self._context is not None and now - self._checked < self.check_interval:
                return self._context
            self._checked = now
            try:
                stamp = self._files_stamp()
                if stamp != self._stamp or self._context is None:
                    self._context, self._stamp = self.load(), stamp
                    self.loads += 1
                    if self.loads > 1:
                        LOG.info("serving certificate reloaded from %s", self.certfile)
            except (OSError, ssl.SSLError) as err:
                if self._context is None:
                    raise
                LOG.warning("cannot load the new certificate (%s); keeping the current one", err)
            return self._context

    def _sni(self, sock: ssl.SSLObject | ssl.SSLSocket, server_name: str | None,
             current: ssl.SSLContext) -> None:
        fresh = self.context()
        if fresh is not current:
            sock.context = fresh
