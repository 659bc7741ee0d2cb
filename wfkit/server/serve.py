"""Serve the application with uvicorn until SIGTERM or Ctrl-C, then stop gracefully."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from typing import Any

from wfkit.server.context import ServerContext

__all__ = ["serve"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _server_class() -> Any:
    import uvicorn

    class _Server(uvicorn.Server):
        """uvicorn's server, except that a signal that stopped it is not raised again
        afterwards (uvicorn does, which would kill the process before the runtime has
        let its running steps finish and released its instances)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            before = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
            try:
                yield
            finally:
                for sig, handler in before.items():
                    signal.signal(sig, handler)

    return _Server


def serve(context: ServerContext, *, host: str, port: int, grace: float) -> None:
    """Serve ``context``'s application on ``host:port``; on SIGTERM or Ctrl-C stop taking
    requests, give running steps ``grace`` seconds to finish and be recorded, and close
    the runtime (its instances are then free for other workers)."""
    import uvicorn

    from wfkit.server.app import create_app

    config = uvicorn.Config(
        create_app(context),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = _server_class()(config)
    try:
        server.run()  # handles SIGINT and SIGTERM itself: returns once told to stop
    finally:
        running = context.runtime.runner.unfinished()
        if grace > 0 and running:
            logging.getLogger(__name__).warning(
                "stopping: %d running step(s) get up to %g s to finish", running, grace
            )
        context.runtime.close(drain=grace if running else 0.0)
