"""wfkit's own routes under ``/v1.0/wfkit/``: instances (listed by status and name, page
by page), an instance with its steps, its history, its graph as SVG and a live stream of
its changes, retry; the definitions with their problems, text and graphs; the OpenAPI
document of every route of the server.

Errors answer ``{"errorCode": "ERR_WFKIT_<CATEGORY>", "message": ...}`` with the status
of the error's category (:data:`wfkit.server.replies.STATUS_OF_CATEGORY`). Store reads
run in worker threads; drawings in at most a few (:mod:`wfkit.server.graphs`)."""

from __future__ import annotations

import functools

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from wfkit.errors import WfkitError
from wfkit.runtime.api import Instance
from wfkit.runtime.jsonforms import event_json, row_json, step_json
from wfkit.server.api_support import (
    PREFIX,
    SAFE_HEADERS,
    SafeJSON,
    decode_cursor,
    encode_cursor,
    int_param,
    json_bytes,
    text_param,
    threaded,
    wfkit_error,
)
from wfkit.server.context import ServerContext
from wfkit.server.forms import (
    definition_items,
    find_definition,
    instance_payload,
    local_definition,
    yaml_text,
)
from wfkit.server.graphs import GraphDrawer
from wfkit.server.limits import (
    HISTORY_PAGE,
    INSTANCES_PAGE_SIZE,
    MAX_HISTORY_PAGE,
    MAX_INSTANCES_PAGE,
)
from wfkit.server.stream import StreamHub

__all__ = ["WfkitRoutes", "routes"]

_SVG_HEADERS = {
    **SAFE_HEADERS,
    # an SVG opened on its own is a document: it may run no script and load nothing
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}


def routes(context: ServerContext) -> list[BaseRoute]:
    """The routes of this part."""
    api = WfkitRoutes(context)
    one = PREFIX + "/instances/{instance_id}"
    return [
        Route(PREFIX + "/instances", threaded(api.list_instances), methods=["GET"]),
        Route(one, threaded(api.get_instance), methods=["GET"]),
        Route(one + "/history", threaded(api.get_history), methods=["GET"]),
        Route(one + "/steps", threaded(api.get_steps), methods=["GET"]),
        Route(one + "/graph.svg", api.instance_graph, methods=["GET"]),
        Route(one + "/stream", api.stream, methods=["GET"]),
        Route(one + "/retry", threaded(api.retry), methods=["POST"]),
        Route(PREFIX + "/definitions", threaded(api.list_definitions), methods=["GET"]),
        Route(PREFIX + "/definitions/{name}", threaded(api.get_definition), methods=["GET"]),
        Route(PREFIX + "/definitions/{name}/graph.svg", api.definition_graph, methods=["GET"]),
        Route(PREFIX + "/openapi.json", api.openapi, methods=["GET"]),
    ]


class WfkitRoutes:
    """The handlers of wfkit's own routes over one server's runtime. The plain methods
    read the store and run in a worker thread (:func:`threaded`); the ``async`` ones
    draw or stream."""

    def __init__(self, context: ServerContext) -> None:
        self.runtime = context.runtime
        self.drawer = GraphDrawer()
        self.hub = StreamHub(context.runtime)
        context.on_stop.append(self.hub.close)

    def _instance(self, request: Request) -> Instance:
        return self.runtime.instance(request.path_params["instance_id"])

    def list_instances(self, request: Request) -> Response:
        """``GET /instances``: a page of instances, newest first."""
        limit = int_param(request, "limit", INSTANCES_PAGE_SIZE, 1, MAX_INSTANCES_PAGE)
        cursor = text_param(request, "cursor")
        rows = self.runtime.workflows.list(
            status=list(dict.fromkeys(request.query_params.getlist("status"))),
            name=text_param(request, "name"),
            limit=limit + 1,  # one more: whether another page follows
            after_key=decode_cursor(cursor) if cursor else None,
        )
        page = rows[:limit]
        last = page[-1] if len(rows) > limit else None
        return SafeJSON(
            {
                "instances": [row_json(row) for row in page],
                "nextCursor": encode_cursor(last.created_at, last.instance_id) if last else None,
            }
        )

    def get_instance(self, request: Request) -> Response:
        """``GET /instances/{id}``."""
        instance = self._instance(request)
        snapshot = instance.snapshot()
        return SafeJSON(instance_payload(instance.row(), snapshot))

    def get_steps(self, request: Request) -> Response:
        """``GET /instances/{id}/steps``."""
        steps = self._instance(request).steps
        return SafeJSON({"steps": {sid: step_json(step) for sid, step in steps.items()}})

    def get_history(self, request: Request) -> Response:
        """``GET /instances/{id}/history``: events after ``after``, a page of them."""
        after = int_param(request, "after", 0, 0, 2**31 - 1)
        limit = int_param(request, "limit", HISTORY_PAGE, 1, MAX_HISTORY_PAGE)
        instance = self._instance(request)
        events = self.runtime.workflows.history(instance.id, after=after, limit=limit + 1)
        page = events[:limit]
        more = len(events) > limit
        return SafeJSON(
            {"events": [event_json(e) for e in page], "next": page[-1].seq if more else None}
        )

    def retry(self, request: Request) -> Response:
        """``POST /instances/{id}/retry``: run a FAILED instance again from its failed
        steps (as ``wfkit retry``)."""
        self._instance(request).retry()
        return SafeJSON({}, status_code=202)

    def list_definitions(self, request: Request) -> Response:
        """``GET /definitions``."""
        folder = self.runtime.settings.definitions
        return SafeJSON({"definitions": definition_items(self.runtime.catalog, folder)})

    def get_definition(self, request: Request) -> Response:
        """``GET /definitions/{name}``: the item and its file's text."""
        folder = self.runtime.settings.definitions
        catalog = self.runtime.catalog
        item = find_definition(catalog, folder, request.path_params["name"])
        return SafeJSON({**item, "yaml": yaml_text(catalog, folder, item)})

    async def instance_graph(self, request: Request) -> Response:
        """``GET /instances/{id}/graph.svg``."""
        try:
            snapshot = await run_in_threadpool(lambda: self._instance(request).snapshot())
            return _svg(await self.drawer.instance_svg(snapshot))
        except WfkitError as error:
            return wfkit_error(error)

    async def definition_graph(self, request: Request) -> Response:
        """``GET /definitions/{name}/graph.svg``."""
        try:
            name = request.path_params["name"]
            folder = self.runtime.settings.definitions
            definition = await run_in_threadpool(
                lambda: local_definition(self.runtime.catalog, folder, name)
            )
            return _svg(await self.drawer.definition_svg(definition))
        except WfkitError as error:
            return wfkit_error(error)

    async def stream(self, request: Request) -> Response:
        """``GET /instances/{id}/stream``: Server-Sent Events."""
        hub = self.hub
        if hub.full:
            said = (
                "the server is stopping"
                if hub.closing
                else (
                    f"this server holds {hub.max_streams} streams, its most; close some, or "
                    "read GET /v1.0/wfkit/instances/{id} instead"
                )
            )
            return SafeJSON({"errorCode": "ERR_WFKIT_UNAVAILABLE", "message": said}, 503)
        try:
            feed, waiter = await hub.join(request.path_params["instance_id"])
        except WfkitError as error:
            return wfkit_error(error)
        headers = {**SAFE_HEADERS, "X-Accel-Buffering": "no"}
        return StreamingResponse(
            hub.events(feed, waiter), media_type="text/event-stream", headers=headers
        )

    async def openapi(self, request: Request) -> Response:
        """``GET /openapi.json``: the OpenAPI document of every route of the server."""
        return Response(_openapi_bytes(), media_type="application/json", headers=SAFE_HEADERS)


@functools.cache
def _openapi_bytes() -> bytes:
    from wfkit import __version__
    from wfkit.server.openapi import document

    return json_bytes(document(__version__))


def _svg(text: str) -> Response:
    return Response(text, media_type="image/svg+xml", headers=_SVG_HEADERS)
