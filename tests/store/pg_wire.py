"""A loopback TCP relay to a PostgreSQL server that counts round trips.

Each round trip between a client and the server ends with exactly one ``ReadyForQuery``
message (type ``Z``) from the server, whatever the client sent (a simple query, an
extended-protocol ``Sync``, ``BEGIN``, ``COMMIT``, the empty query of a connection check).
:class:`RoundTrips` forwards bytes both ways unchanged and reads the server's message
stream to count them, so a test can say how many round trips a store method costs.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from types import TracebackType

from psycopg.conninfo import conninfo_to_dict, make_conninfo

__all__ = ["RoundTrips"]


class RoundTrips:
    """Relays ``url``'s server on a loopback port; :attr:`url` connects through it and
    :attr:`count` is the number of ``ReadyForQuery`` messages the server has sent."""

    def __init__(self, url: str) -> None:
        params = conninfo_to_dict(url)
        host = str(params.get("host") or "/tmp")
        port = int(str(params.get("port") or 5432))
        self._target: tuple[int, str | tuple[str, int]] = (
            (socket.AF_UNIX, f"{host}/.s.PGSQL.{port}")
            if host.startswith("/")
            else (socket.AF_INET, (host, port))
        )
        self._listener = socket.create_server(("127.0.0.1", 0))
        params.update(host="127.0.0.1", port=self._listener.getsockname()[1])
        params.update(sslmode="disable", gssencmode="disable")  # plain messages only
        self.url = make_conninfo(**{k: str(v) for k, v in params.items()})
        self.count = 0
        self._lock = threading.Lock()
        self._open: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> RoundTrips:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        for sock in self._open:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.socket(self._target[0], socket.SOCK_STREAM)
            server.connect(self._target[1])
            self._open += [client, server]
            threading.Thread(target=self._relay, args=(client, server), daemon=True).start()

    def _relay(self, client: socket.socket, server: socket.socket) -> None:
        pending = b""  # the server's bytes not yet parsed into whole messages
        with contextlib.suppress(OSError):
            while True:
                readable, _, _ = select.select([client, server], [], [])
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (server if sock is client else client).sendall(data)
                    if sock is server:
                        pending = self._parse(pending + data)

    def _parse(self, data: bytes) -> bytes:
        while len(data) >= 5:
            size = int.from_bytes(data[1:5], "big")
            if len(data) < 1 + size:
                break
            if data[:1] == b"Z":
                with self._lock:
                    self.count += 1
            data = data[1 + size :]
        return data
