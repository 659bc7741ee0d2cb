"""Connections to ``wfkit serve`` send without Nagle's delay.

uvicorn serves the socket that :func:`wfkit.server.serve.listen` binds, and writes a
reply's headers and its body in two sends. asyncio turns Nagle's algorithm off
(``TCP_NODELAY``) on each connection it accepts, but only when the listening socket says
it is TCP (``proto == IPPROTO_TCP``, which ``socket.socket(AF_INET, SOCK_STREAM)`` does
not). With Nagle on, the body waits for the client's delayed ACK: about 40 ms a reply to
the Dapr JavaScript SDK (``benchmarks/server.py`` measures it; this test checks the cause,
with no timing).
"""

from __future__ import annotations

import asyncio
import socket

from wfkit.server.serve import listen


async def _nodelay_of_accepted(sock: socket.socket) -> int:
    loop = asyncio.get_running_loop()
    accepted: asyncio.Future[int] = loop.create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            raw = transport.get_extra_info("socket")
            accepted.set_result(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await loop.create_server(Probe, sock=sock)  # as uvicorn serves given sockets
    async with server:
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        try:
            return await asyncio.wait_for(accepted, 30)
        finally:
            writer.close()


def test_connections_accepted_on_the_servers_socket_have_nagle_off() -> None:
    sock = listen("127.0.0.1", 0)
    assert asyncio.run(_nodelay_of_accepted(sock)) != 0
