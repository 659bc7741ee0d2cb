"""Dapr's workflow HTTP API, to the letter, and the side endpoints a Dapr client calls
before its first workflow call (``/v1.0/metadata``, ``/v1.0/healthz``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from wfkit.server.context import ServerContext

__all__ = ["VERSIONS", "routes"]

VERSIONS = ("v1.0", "v1.0-beta1", "v1.0-alpha1")
"""The API versions under which Dapr has served its workflow routes."""


def routes(context: ServerContext) -> list[BaseRoute]:
    """The routes of this part."""

    async def metadata(request: Request) -> Response:
        # The Dapr JavaScript SDK refuses to start when this object is empty.
        return JSONResponse(
            {
                "id": "wfkit",
                "runtimeVersion": f"wfkit-{_version()}",
                "enabledFeatures": [],
                "components": [{"name": "wfkit", "type": "workflow.wfkit", "version": "v1"}],
                "extended": {"wfkit.store": _redacted_store(context)},
            }
        )

    async def healthz(request: Request) -> Response:
        return Response(status_code=204)

    return [
        Route("/v1.0/metadata", metadata, methods=["GET"]),
        Route("/v1.0/healthz", healthz, methods=["GET"]),
        Route("/v1.0/healthz/outbound", healthz, methods=["GET"]),
    ]


def _version() -> str:
    from wfkit import __version__

    return __version__


def _redacted_store(context: ServerContext) -> str:
    from wfkit.store import redact

    return redact(context.runtime.settings.store)
