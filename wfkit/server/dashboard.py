"""The dashboard: a web page at ``/`` served from static files (no build step)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from wfkit.server.context import ServerContext

__all__ = ["routes"]


def routes(context: ServerContext) -> list[BaseRoute]:
    """The routes of this part."""
    return []
