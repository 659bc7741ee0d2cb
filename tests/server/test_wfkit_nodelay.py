"""The server's connections have Nagle's algorithm off (TCP_NODELAY): a reply written as
headers then body must not wait for the client's delayed ACK (40 ms a reply on a
keep-alive connection, for every route)."""

from __future__ import annotations

import asyncio
import socket

from wfkit.server.serve import listen


def test_accepted_connections_have_nagle_off() -> None:
    async def accept_one() -> int:
        sock = listen("127.0.0.1", 0)
        sock.listen()
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                accepted = transport.get_extra_info("socket")
                seen.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        loop = asyncio.get_running_loop()
        server = await loop.create_server(Probe, sock=sock)  # as uvicorn serves it
        port = sock.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, 30)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(accept_one()) != 0
