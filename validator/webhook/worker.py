"""The gunicorn worker that runs the TLS front (front.py) in an asyncio loop.

gunicorn stays the process manager: it binds the port, forks `--workers` processes, restarts one that dies or
stops heart-beating, and turns SIGTERM into a graceful stop. This worker replaces only what `gthread` did
inside each process: it loads the app (the state is built here, in the worker), serves it through `Front`
with `--threads` threads for the app, beats the heart once a second, and on SIGTERM stops accepting, closes
idle connections and lets requests in progress finish within `graceful_timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from gunicorn.workers.base import Worker

from .front import Front

HEARTBEAT = 1.0


class FrontWorker(Worker):  # type: ignore[misc]
    """A gunicorn worker whose app object (`processes.WebhookServer`) carries `certs` and `limits`."""

    def run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            loop.add_signal_handler(sig, stop.set)
        front = Front(self.wsgi, self.app.certs, self.app.limits, self.cfg.threads, self.cfg.workers > 1)
        await front.start([getattr(sock, "sock", sock) for sock in self.sockets])
        while self.alive and not stop.is_set():  # type: ignore[has-type]
            self.notify()
            if os.getppid() != self.ppid:
                self.log.info("parent changed, shutting down: %s", self)
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), HEARTBEAT)
        self.alive = False
        await front.stop(self.cfg.graceful_timeout)
