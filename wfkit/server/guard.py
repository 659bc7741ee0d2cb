"""The guard in front of every route: the API token and the request body limit.

Pure ASGI middleware, so that a body over the limit is refused while it arrives, before
it is held in memory, and a Server-Sent Events stream passes through untouched."""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wfkit.server.context import ServerContext

__all__ = ["HEALTH_PATHS", "PUBLIC_PATHS", "PUBLIC_PREFIXES", "BodyTooLarge", "Guard"]

PUBLIC_PATHS = frozenset({"/", "/favicon.ico"})
"""Paths served without the token: the dashboard's page (it holds no data, and asks for
the token itself)."""

HEALTH_PATHS = frozenset({"/v1.0/healthz", "/v1.0/healthz/outbound"})
"""Paths served without the token to GET (and HEAD) only, as Dapr's sidecar does
(``isRouteExcludedFromAPITokenAuth`` in Dapr's ``pkg/api/http/middlewares.go``)."""

PUBLIC_PREFIXES = ("/static/",)
"""Prefixes of paths served without the token: the dashboard's scripts and styles."""


class Guard:
    """Refuses requests without the server's token (when it has one) with 401, and
    bodies over ``max_body_bytes`` with 413, both in Dapr's error form."""

    def __init__(self, app: ASGIApp, context: ServerContext) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = self.context.token
        if token is not None and not _public(scope) and not _has_token(scope, token):
            await _refuse(
                send,
                401,
                "ERR_UNAUTHORIZED",
                "this server needs its API token: send it in "
                "the dapr-api-token header or as 'Authorization: Bearer TOKEN'",
                [(b"www-authenticate", b'Bearer realm="wfkit"')],
            )
            return
        limit = self.context.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, 413, "ERR_BODY_TOO_LARGE", _too_large(limit))
            return
        await self.app(scope, _limited(receive, send, limit), send)


def _limited(receive: Receive, send: Send, limit: int) -> Receive:
    """``receive`` that stops a chunked body once it passes ``limit`` bytes."""
    seen = 0

    async def receive_limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return receive_limited


class BodyTooLarge(Exception):
    """A request body passed the limit while it was read."""

    def __init__(self, limit: int) -> None:
        super().__init__(_too_large(limit))
        self.limit = limit


def _too_large(limit: int) -> str:
    return (
        f"the request body is over the server's limit of {limit:,} bytes; send less, or "
        "start the server with a larger --max-body-bytes"
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            text: str = value.decode("latin-1")
            return text
    return None


def _public(scope: Scope) -> bool:
    """Whether the request is served without the token."""
    path: str = scope.get("path", "")
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return True
    return scope.get("method") in ("GET", "HEAD") and path.rstrip("/") in HEALTH_PATHS


def _has_token(scope: Scope, token: str) -> bool:
    """Whether the request carries ``token`` (in the ``dapr-api-token`` header, which
    wins, or as a bearer token), compared in constant time."""
    given = _header(scope, b"dapr-api-token")
    if given is None:
        auth = _header(scope, b"authorization") or ""
        scheme, _, value = auth.strip().partition(" ")
        given = value.strip() if scheme.lower() == "bearer" else None
    if given is None:
        return False
    # the header's own bytes (decoded as latin-1 above) against the token's UTF-8 bytes
    return hmac.compare_digest(given.encode("latin-1"), token.encode("utf-8"))


async def _refuse(
    send: Send,
    status: int,
    code: str,
    message: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps({"errorCode": code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
