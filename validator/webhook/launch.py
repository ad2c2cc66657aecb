"""Launching `ippool-validator serve`: check the inputs in the master process, then hand over to gunicorn.

Everything that can be wrong before serving (certificate files, the policy file, the state folder) is
checked here, so a mistake is one clear line and exit status 2, not a worker that fails to boot in a loop.
The state itself is built in each worker (`preload_app` is off): the watch threads must live in the process
that serves.
"""

from __future__ import annotations

import logging
import os
import ssl
from dataclasses import dataclass
from typing import Any

from ..config import Config
from ..model import DEFAULT_MAX_BODY_BYTES
from .certstore import CertificateStore
from .front import Limits
from .processes import WebhookServer, gunicorn_options


class ServeError(Exception):
    """A setting that makes serving impossible: a message for the user."""


@dataclass(frozen=True)
class ServeOptions:
    tls_cert: str
    tls_key: str
    host: str = "0.0.0.0"
    port: int = 8443
    state: str = "cluster"
    mode: str = "enforce"
    on_error: str = "deny"
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    workers: int = 1
    threads: int = 8
    kubeconfig: str | None = None
    log_level: str = "info"
    handshake_timeout: float = Limits.handshake
    header_timeout: float = Limits.header
    body_timeout: float = Limits.body
    idle_timeout: float = Limits.idle
    max_connections: int = Limits.max_connections

    def limits(self) -> Limits:
        return Limits(handshake=self.handshake_timeout, header=self.header_timeout, body=self.body_timeout,
                      idle=self.idle_timeout, max_body_bytes=self.max_body_bytes,
                      max_connections=self.max_connections)


def check_inputs(options: ServeOptions) -> CertificateStore:
    certs = CertificateStore(options.tls_cert, options.tls_key)
    try:
        certs.context()
    except (OSError, ssl.SSLError) as err:
        raise ServeError(f"cannot use --tls-cert {options.tls_cert} with --tls-key {options.tls_key}: "
                         f"{err}") from None
    if options.state != "cluster" and not os.path.isdir(options.state) and not os.path.isfile(options.state):
        raise ServeError(f"--state {options.state}: no such folder or file (or say --state cluster)")
    return certs


def serve(options: ServeOptions, config: Config) -> None:
    logging.basicConfig(level=options.log_level.upper(),
                        format="%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    certs = check_inputs(options)

    def build_app() -> Any:
        from .app import Settings, create_app
        from .metrics import Metrics
        from .state import ClusterState, StaticState

        state = StaticState(options.state) if options.state != "cluster" \
            else ClusterState(kubeconfig=options.kubeconfig)
        state.start()
        settings = Settings(options.mode, options.on_error, options.max_body_bytes)  # type: ignore[arg-type]
        return create_app(state, config, settings, Metrics())

    WebhookServer(build_app, gunicorn_options(options.host, options.port, options.workers, options.threads,
                                               options.log_level), certs, options.limits()).run()
