"""The ASGI application: the routes of each part, behind the guard."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from wfkit.server import dapr_api, dashboard, wfkit_api
from wfkit.server.context import ServerContext
from wfkit.server.guard import Guard
from wfkit.server.replies import exception_handlers

__all__ = ["create_app"]


def create_app(context: ServerContext) -> Starlette:
    """The server's application over ``context.runtime``: Dapr's routes, wfkit's own
    routes and the dashboard, with the token check and the body limit in front."""
    routes: list[BaseRoute] = [
        *dapr_api.routes(context),
        *wfkit_api.routes(context),
        *dashboard.routes(context),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Guard, context=context)],
        exception_handlers=exception_handlers(),
    )
    app.state.context = context
    return app
