"""Serve the application with uvicorn until SIGTERM or Ctrl-C, then stop gracefully.

From the moment ``wfkit serve`` starts (:class:`StopSignals`), SIGINT and SIGTERM stop it
gracefully: one that comes while the runtime opens is acted on as soon as the server
runs; one that comes while running steps finish stops at once.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import signal
import socket
import threading
import warnings
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType
from typing import Any

from wfkit.server.context import ServerContext

__all__ = ["StopSignals", "cannot_listen", "listen", "serve"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _StopNow(Exception):
    """Told again to stop while running steps finish: stop at once."""


class StopSignals:
    """SIGINT and SIGTERM from the start of ``wfkit serve`` (``with StopSignals() as
    signals:``): remembered while the runtime opens, handed to the server when it runs,
    and during the drain after it, a second one stops at once."""

    def __init__(self) -> None:
        #: The signals received before the server handled them itself.
        self.received: list[int] = []
        self.draining = False
        self._before: dict[int, Any] = {}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.draining:
            raise _StopNow
        self.received.append(signum)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._before = {sig: signal.signal(sig, self._on_signal) for sig in _SIGNALS}
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, handler in self._before.items():
            signal.signal(sig, handler)


def _server_class() -> Any:
    import uvicorn

    class _Server(uvicorn.Server):
        """uvicorn's server, except that it acts on the signals received before it ran,
        says when it is ready, and that a signal that stopped it is not raised again
        afterwards (uvicorn does, which would kill the process before the runtime has
        let its running steps finish and released its instances)."""

        def __init__(
            self, config: uvicorn.Config, signals: StopSignals, ready: Callable[[], None]
        ) -> None:
            super().__init__(config)
            self.signals = signals
            self.ready = ready
            self.on_stop: list[Callable[[], None]] = []

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            before = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
            for sig in self.signals.received:
                self.handle_exit(sig, None)
            try:
                yield
            finally:
                for sig, handler in before.items():
                    signal.signal(sig, handler)

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if not self.should_exit:
                self.ready()

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for stop in self.on_stop:  # the event streams end: nothing holds the stop back
                stop()
            await super().shutdown(sockets)

    return _Server


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: one the system picks), before the
    runtime opens, so that a port in use fails at once with :func:`cannot_listen`'s
    message rather than after the engine started. Raises :class:`OSError`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say
    # they are TCP, and an accepted socket inherits it; with Nagle on, a reply sent as
    # headers then body waits for the client's delayed ACK on keep-alive: 40 ms a reply
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def cannot_listen(exc: OSError, host: str, port: int) -> str:
    """One line that says why the server cannot listen on ``host:port``, and what to do."""
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: the port is in use (another wfkit serve, or a Dapr "
            "sidecar?); stop that server or choose another --port"
        )
    if exc.errno == errno.EACCES:
        return (
            f"cannot listen on {where}: not allowed (ports below 1024 need privileges); "
            "choose another --port"
        )
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return f"cannot listen on {where}: this machine has no such address; check --host"
    return f"cannot listen on {where}: {exc.strerror or exc}"


def serve(
    context: ServerContext,
    sock: socket.socket,
    *,
    grace: float,
    signals: StopSignals | None = None,
    ready: Callable[[], None] = lambda: None,
) -> None:
    """Serve ``context``'s application on the bound socket ``sock`` (calling ``ready``
    once it takes requests); on SIGTERM or Ctrl-C stop taking requests, give running
    steps ``grace`` seconds to finish and be recorded, and close the runtime (its
    instances are then free for other workers)."""
    import uvicorn

    from wfkit.server.app import create_app

    config = uvicorn.Config(
        create_app(context),
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    signals = signals or StopSignals()
    server = _server_class()(config, signals, ready)
    server.on_stop = context.on_stop
    warnings.showwarning = _log_warning
    try:
        server.run(sockets=[sock])  # handles SIGINT and SIGTERM: returns once told to stop
    finally:
        sock.close()
        _close(context, grace, signals)


def _log_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """A warning (an event sent that no wait step takes, say) as one line of the server's
    log, without the thread pool's file and line that ``warnings`` would show."""
    logging.getLogger("wfkit.server").warning("%s: %s", category.__name__, message)


def _close(context: ServerContext, grace: float, signals: StopSignals) -> None:
    running = context.runtime.runner.unfinished()
    if grace > 0 and running:
        logging.getLogger(__name__).warning(
            "stopping: %d running step(s) get up to %g s to finish and be recorded; "
            "Ctrl-C again to stop at once",
            running,
            grace,
        )
        signals.draining = True
        try:
            context.runtime.close(drain=grace)
            return
        except (KeyboardInterrupt, _StopNow):
            pass
    context.runtime.close()
