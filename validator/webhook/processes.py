"""gunicorn as the webhook's process manager: configured in code, HTTPS only (TLS 1.2+).

Why gunicorn with the `gthread` worker: it is a mature pre-fork WSGI server that serves TLS itself (no
sidecar), restarts a worker that hangs, shuts down gracefully on SIGTERM, and its threaded worker keeps the
API server's keep-alive connections open without an event-loop library. The work per request is short and
CPU-bound, so one process with a few threads answers as fast as the GIL allows, and one process means one
watch of the cluster and one copy of the state.

Workers: `--workers 1` (default) keeps one list+watch per pod and plain metrics; scale out with replicas.
With `--workers N` each worker is a process with its own watch of every resource (N times the API server
load and the memory) and metrics switch to prometheus_client's multi-process mode. gunicorn asks
`CertificateStore` (certstore.py) for a context per new connection.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from .certstore import CertificateStore


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
