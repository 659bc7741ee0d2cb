"""Replies in Dapr's error form, ``{"errorCode": ..., "message": ...}``, and the mapping
of wfkit's error categories to HTTP status codes (the one place that does it)."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wfkit.errors import ErrorCategory, short
from wfkit.server.guard import BodyTooLarge

__all__ = ["STATUS_OF_CATEGORY", "dapr_error", "exception_handlers"]

STATUS_OF_CATEGORY: dict[ErrorCategory, int] = {
    ErrorCategory.NOT_FOUND: 404,
    ErrorCategory.INVALID_ARGUMENT: 400,
    ErrorCategory.CONFLICT: 409,
    ErrorCategory.FAILED_PRECONDITION: 409,
    ErrorCategory.RESOURCE_EXHAUSTED: 413,
    ErrorCategory.UNAVAILABLE: 503,
    ErrorCategory.NOT_IMPLEMENTED: 501,
    ErrorCategory.INTERNAL: 500,
}
"""The HTTP status of each category, for wfkit's own routes (Dapr's routes answer with
Dapr's own statuses: see :mod:`wfkit.server.dapr_api`)."""


def dapr_error(status: int, code: str, message: str) -> JSONResponse:
    """An error reply as Dapr's sidecar gives it."""
    return JSONResponse({"errorCode": code, "message": message}, status_code=status)


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Unknown routes and wrong methods, as Dapr answers them (its router's 404 and 405
    carry Dapr's error body too)."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return dapr_error(404, "ERR_NOT_FOUND", f"no route for {short(request.url.path)}")
    if exc.status_code == 405:
        reply = dapr_error(
            405, "ERR_METHOD_NOT_ALLOWED", f"method {request.method} not allowed here"
        )
        if exc.headers:
            reply.headers.update(exc.headers)
        return reply
    return dapr_error(exc.status_code, "ERR_HTTP", str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> Response:
    """A bug of wfkit's: a 500 with no stack trace in the body (the log has it)."""
    return dapr_error(500, "ERR_INTERNAL", f"internal error ({type(exc).__name__})")


async def _body_too_large(request: Request, exc: Exception) -> Response:
    """A chunked body that passed the limit while a route read it."""
    return dapr_error(413, "ERR_BODY_TOO_LARGE", str(exc))


def exception_handlers() -> dict[Any, Any]:
    """The application's handlers: Dapr-style bodies for every error reply."""
    return {
        HTTPException: _http_exception,
        BodyTooLarge: _body_too_large,
        Exception: _unexpected,
    }
