"""gunicorn as the webhook's process manager; each worker serves through the TLS front (front.py).

Why this split: gunicorn is a mature pre-fork server that restarts a worker that dies or hangs, turns SIGTERM
into a graceful stop and handles the listening socket; what it lacked was inside the worker. Its `gthread`
worker gives every accepted connection a thread with no deadline for the TLS handshake or the request head,
so eight silent clients froze the server (issue 12). The worker class here (`worker.FrontWorker`) keeps
gunicorn's arbiter and replaces the per-connection threads with an asyncio front that holds connections
cheaply, bounds every phase (`front.Limits`) and gives the app's `--threads` only whole requests. See
front.py for the bounds and for the servers considered and rejected.

Workers: `--workers 1` (default) keeps one list+watch per pod and plain metrics; scale out with replicas.
With `--workers N` each worker is a process with its own watch of every resource (N times the API server
load and the memory) and metrics switch to prometheus_client's multi-process mode. `--threads` is the size
of each worker's pool for the app (judging is CPU work under the GIL, so a few suffice); connections are
not threads any more, and up to `Limits.max_connections` are held per worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from .certstore import CertificateStore
from .front import Limits


class WebhookServer(BaseApplication):  # type: ignore[misc]
    """gunicorn, configured from a dict instead of a command line; `load` builds the app in each worker.
    The worker reads `certs` and `limits` from this object (it is forked with it)."""

    def __init__(self, app_factory: Callable[[], Any], options: dict[str, Any], certs: CertificateStore,
                 limits: Limits) -> None:
        self.app_factory = app_factory
        self.options = options
        self.certs, self.limits = certs, limits
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings a gunicorn version lacks are skipped
                self.cfg.set(key, value)

    def load(self) -> Any:
        return self.app_factory()


def gunicorn_options(host: str, port: int, workers: int, threads: int,
                     log_level: str = "info") -> dict[str, Any]:
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    options: dict[str, Any] = {
        "bind": [bind],
        "workers": workers,
        "worker_class": "validator.webhook.worker.FrontWorker",
        "threads": threads,
        "timeout": 30,  # a worker that misses its heartbeat this long is restarted
        "graceful_timeout": 10,
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
