"""The production server: gunicorn, HTTPS only (TLS 1.2+), configured in code; certificates re-read on change.

Why gunicorn with the `gthread` worker: it is a mature pre-fork WSGI server that serves TLS itself (no
sidecar), restarts a worker that hangs, shuts down gracefully on SIGTERM, and its threaded worker keeps the
API server's keep-alive connections open without an event-loop library. The work per request is short and
CPU-bound, so one process with a few threads answers as fast as the GIL allows, and one process means one
watch of the cluster and one copy of the state.

Workers: `--workers 1` (default) keeps one list+watch per pod and plain metrics; scale out with replicas.
With `--workers N` each worker is a process with its own watch of every resource (N times the API server
load and the memory) and metrics switch to prometheus_client's multi-process mode.

Certificate rotation: `CertificateStore` hands gunicorn an SSLContext and checks the files' identity (inode,
size, mtime) at most once a second; when they changed it loads a new context (keeping the old one if the
new files do not load, e.g. between the writes of cert and key). gunicorn asks for a context per new
connection; the context's SNI callback also switches a handshake in progress to the newest context, so
rotation works whichever way a gunicorn version uses the hook. Kubernetes Secret volumes swap both files
at once, so no restart is ever needed.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

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


class WebhookServer(BaseApplication):  # type: ignore[misc]
    """gunicorn, configured from a dict instead of a command line; `load` builds the app in each worker."""

    def __init__(self, app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self.app_factory = app_factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings a gunicorn version lacks are skipped
                self.cfg.set(key, value)

    def load(self) -> Any:
        return self.app_factory()


def gunicorn_options(host: str, port: int, certs: CertificateStore, workers: int, threads: int,
                     log_level: str = "info") -> dict[str, Any]:
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def ssl_context(config: Any, default_factory: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return certs.context()

    options: dict[str, Any] = {
        "bind": [bind],
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "certfile": certs.certfile,
        "keyfile": certs.keyfile,
        "ssl_context": ssl_context,
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 75,  # longer than the API server's idle connection reuse, so it rarely meets a close
        "backlog": 512,
        "preload_app": False,  # each worker builds its own state (threads do not survive fork)
        "accesslog": None,
        "errorlog": "-",
        "loglevel": log_level,
        "proc_name": "ippool-validator",
        "control_socket_disable": True,  # gunicorn 24+: no runtime control socket in the container
    }
    if workers > 1:
        def child_exit(server: Any, worker: Any) -> None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(worker.pid)

        options["child_exit"] = child_exit
    return options
