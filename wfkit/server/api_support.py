"""What wfkit's own routes share: safe JSON replies, errors as ``{"errorCode",
"message"}`` with the status of their category, bounded query parameters and opaque
page cursors."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wfkit.errors import InvalidRequest, WfkitError
from wfkit.server.replies import STATUS_OF_CATEGORY

__all__ = [
    "PREFIX",
    "SAFE_HEADERS",
    "SafeJSON",
    "decode_cursor",
    "encode_cursor",
    "error_code",
    "int_param",
    "text_param",
    "threaded",
    "wfkit_error",
]

PREFIX = "/v1.0/wfkit"
"""Where wfkit's own routes live."""

SAFE_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
"""Headers of every reply of wfkit's own routes: a browser never sniffs a reply into
HTML, and nothing of an instance is cached."""

_CURSOR_MAX = 400
"""The longest cursor accepted, in characters (one encodes a time and an id of at most
64 characters; anything longer was not made here)."""


class SafeJSON(JSONResponse):
    """JSON whose ``<``, ``>`` and ``&`` are escaped (as Go's encoder, hence Dapr, does):
    user data in a reply stays data even where something takes it for HTML."""

    def render(self, content: Any) -> bytes:
        return json_bytes(content)

    def init_headers(self, headers: Any = None) -> None:
        super().init_headers({**SAFE_HEADERS, **(dict(headers) if headers else {})})


def json_bytes(content: Any) -> bytes:
    """``content`` as compact UTF-8 JSON with ``<``, ``>`` and ``&`` escaped."""
    text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode("utf-8")


def error_code(error: WfkitError) -> str:
    """The ``errorCode`` of a wfkit error: ``ERR_WFKIT_`` and its category."""
    return f"ERR_WFKIT_{error.category.value}"


def wfkit_error(error: WfkitError) -> Response:
    """A wfkit error as a reply: its category's status, its code and message."""
    return SafeJSON(
        {"errorCode": error_code(error), "message": str(error)},
        status_code=STATUS_OF_CATEGORY[error.category],
    )


def threaded(work: Callable[[Request], Response]) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that runs ``work`` (which reads the store: it blocks) in a worker
    thread, answering a :class:`WfkitError` it raises with :func:`wfkit_error`."""

    async def endpoint(request: Request) -> Response:
        try:
            return await run_in_threadpool(work, request)
        except WfkitError as error:
            return wfkit_error(error)

    endpoint.__name__ = work.__name__
    endpoint.__doc__ = work.__doc__
    return endpoint


def int_param(request: Request, name: str, default: int, least: int, most: int) -> int:
    """The whole number query parameter ``name`` (``default`` when absent), from
    ``least`` to ``most``; :class:`InvalidRequest` otherwise."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text.strip()) if len(text) <= 20 else None
    except ValueError:
        value = None
    if value is None or not least <= value <= most:
        raise InvalidRequest(name, f"must be a whole number from {least} to {most}")
    return value


def text_param(request: Request, name: str) -> str | None:
    """The text query parameter ``name`` (None when absent or empty); one holding a NUL
    character (which no stored name holds, and PostgreSQL cannot even compare) is
    :class:`InvalidRequest`."""
    text = request.query_params.get(name) or None
    if text is not None and "\x00" in text:
        raise InvalidRequest(name, "holds a NUL character, which no name holds")
    return text


def encode_cursor(created_at: float, instance_id: str) -> str:
    """An opaque cursor for the page after the row ``(created_at, instance_id)``."""
    raw = json.dumps([created_at, instance_id], separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str) -> tuple[float, str]:
    """The row key a cursor of :func:`encode_cursor` holds; :class:`InvalidRequest`
    when it was not made by it."""
    bad = InvalidRequest(
        "cursor", "not a cursor this server gave; pass the nextCursor of the previous page"
    )
    if len(text) > _CURSOR_MAX:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        created_at, instance_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise bad from None
    if not isinstance(created_at, int | float) or isinstance(created_at, bool):
        raise bad
    if not isinstance(instance_id, str) or "\x00" in instance_id:
        raise bad
    if not math.isfinite(created_at):
        raise bad
    return float(created_at), instance_id
