"""What every route of the server shares: the runtime and the server's own settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from wfkit.runtime.api import Runtime

__all__ = ["DEFAULT_HOST", "DEFAULT_MAX_BODY_BYTES", "DEFAULT_PORT", "ServerContext"]

DEFAULT_HOST = "127.0.0.1"
"""Loopback: nothing off this machine reaches the server unless told to."""

DEFAULT_PORT = 3500
"""Dapr's HTTP port, so that Dapr clients find the server where they look by default."""

DEFAULT_MAX_BODY_BYTES = 16 << 20
"""The largest request body accepted (a start's input, an event's data): bigger ones get
413. The same as the largest step output (``max_output_bytes``)."""


@dataclass(frozen=True)
class ServerContext:
    """The runtime the routes act on, and the server's settings."""

    runtime: Runtime
    #: Every request must carry this token (``dapr-api-token`` header or a bearer
    #: token) when set; None: no token asked for (loopback only).
    token: str | None = None
    #: The largest request body, in bytes.
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    #: Called in the server's event loop when it starts to stop, before it waits for
    #: the open connections to finish: the event streams end there (a stream would
    #: otherwise hold the stop back until uvicorn's graceful timeout cancels it).
    on_stop: list[Callable[[], None]] = field(default_factory=list)
