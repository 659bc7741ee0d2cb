"""The dashboard: a web page at ``/`` served from static files (no build step).

The page (``static/index.html``) holds no data: its scripts (plain JavaScript modules
under ``/static/js/``) read everything through the server's JSON routes, sending the API
token when the server asks for one. So ``/`` and ``/static/`` are served without the
token (see :mod:`wfkit.server.guard`), and the page's routes are hash routes
(``/#/instances/ID``): only ``/`` serves HTML.

Every reply of this part carries a Content Security Policy that allows scripts, styles
and images from this server only and no inline script: data that reached the page as
markup by mistake still could not run. The page puts every value it gets from the
server in as text, and a graph's SVG through an allow-list of elements and attributes.

The status colours are those of the notebook views (:data:`wfkit.views.dot.STATUS_COLORS`),
served as a stylesheet made from them, so that the two never drift apart.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wfkit.server.context import ServerContext
from wfkit.views.dot import STATUS_COLORS

__all__ = ["CONTENT_SECURITY_POLICY", "RUNTIME_STATUS_COLORS", "STATIC", "routes", "status_css"]

STATIC = Path(__file__).parent / "static"
"""The page, its scripts, styles and icon (package data: shipped in the wheel)."""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
"""What the page may load: its own scripts, styles and data from this server, nothing
inline, nothing from elsewhere, and it may not be framed."""

RUNTIME_STATUS_COLORS = {
    "PENDING": STATUS_COLORS["pending"],
    "RUNNING": STATUS_COLORS["running"],
    "SUSPENDED": STATUS_COLORS["paused"],
    "COMPLETED": STATUS_COLORS["completed"],
    "CONTINUED_AS_NEW": STATUS_COLORS["completed"],
    "FAILED": STATUS_COLORS["failed"],
    "TERMINATED": STATUS_COLORS["canceled"],
    "CANCELED": STATUS_COLORS["canceled"],
}
"""An instance's runtime status shown in the colour of the step status nearest to it."""

_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

_RAW_HEADERS = [(name.lower().encode(), value.encode()) for name, value in _HEADERS.items()]


def status_css() -> str:
    """The stylesheet of status colours: ``.status-<step status>`` and
    ``.rs-<RUNTIME_STATUS>`` set the background, ``--status-<name>`` hold the colours."""
    names = [f"  --status-{name}: {color};" for name, color in STATUS_COLORS.items()]
    lines = [":root {", *names, "}"]
    for prefix, colors in (("status", STATUS_COLORS), ("rs", RUNTIME_STATUS_COLORS)):
        lines += [f".{prefix}-{name} {{ background: {color}; }}" for name, color in colors.items()]
    return "\n".join(lines) + "\n"


class _Secured:
    """Adds the dashboard's security headers to every reply of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *_RAW_HEADERS]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_secured)


def routes(context: ServerContext) -> list[BaseRoute]:
    """The routes of this part: the page, its static files, the status colours."""
    css = status_css()

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=_HEADERS)

    async def icon(request: Request) -> Response:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml", headers=_HEADERS)

    async def colors(request: Request) -> Response:
        return Response(css, media_type="text/css", headers=_HEADERS)

    return [
        Route("/", page, methods=["GET", "HEAD"]),
        Route("/favicon.ico", icon, methods=["GET", "HEAD"]),
        Route("/static/status.css", colors, methods=["GET", "HEAD"]),
        Mount("/static", app=_Secured(StaticFiles(directory=STATIC)), name="static"),
    ]
