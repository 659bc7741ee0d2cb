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
    instance_id_param,
    int_param,
    json_bytes,
    text_param,
    threaded,
    wfkit_error,
)
from wfkit.server.context import ServerContext
from wfkit.server.forms import definition_items, find_definition, instance_payload, yaml_text
from wfkit.server.graphs import GraphDrawer
from wfkit.server.limits import (
    HISTORY_PAGE,
    INSTANCES_PAGE_SIZE,
    MAX_HISTORY_PAGE,
    MAX_INSTANCES_PAGE,
)
from wfkit.server.stream import StreamHub

__all__ = ["routes"]

_SVG_HEADERS = {
    **SAFE_HEADERS,
    # an SVG opened on its own is a document: it may run no script and load nothing
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}


def routes(context: ServerContext) -> list[BaseRoute]:
    """The routes of this part."""
    runtime = context.runtime
    drawer = GraphDrawer()
    hub = StreamHub(runtime)
    context.on_stop.append(hub.close)

    def list_instances(request: Request) -> Response:
        """``GET /instances``: a page of instances, newest first."""
        limit = int_param(request, "limit", INSTANCES_PAGE_SIZE, 1, MAX_INSTANCES_PAGE)
        cursor = text_param(request, "cursor")
        rows = runtime.workflows.list(
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

    def get_instance(request: Request) -> Response:
        """``GET /instances/{id}``."""
        instance = _instance(request)
        snapshot = instance.snapshot()
        return SafeJSON(instance_payload(instance.row(), snapshot))

    def get_steps(request: Request) -> Response:
        """``GET /instances/{id}/steps``."""
        steps = _instance(request).steps
        return SafeJSON({"steps": {sid: step_json(step) for sid, step in steps.items()}})

    def get_history(request: Request) -> Response:
        """``GET /instances/{id}/history``: events after ``after``, a page of them."""
        after = int_param(request, "after", 0, 0, 2**31 - 1)
        limit = int_param(request, "limit", HISTORY_PAGE, 1, MAX_HISTORY_PAGE)
        instance = _instance(request)
        # the store reads to the end (its rows hold several events): a page is a slice
        events = runtime.workflows.history(instance.id, after=after)
        page = events[:limit]
        more = len(events) > limit
        return SafeJSON(
            {"events": [event_json(e) for e in page], "next": page[-1].seq if more else None}
        )

    def retry(request: Request) -> Response:
        """``POST /instances/{id}/retry``: run a FAILED instance again from its failed
        steps (as ``wfkit retry``)."""
        _instance(request).retry()
        return SafeJSON({}, status_code=202)

    def list_definitions(request: Request) -> Response:
        """``GET /definitions``."""
        folder = runtime.settings.definitions
        return SafeJSON({"definitions": definition_items(runtime.catalog, folder)})

    def get_definition(request: Request) -> Response:
        """``GET /definitions/{name}``: the item and its file's text."""
        folder = runtime.settings.definitions
        catalog = runtime.catalog
        item = find_definition(catalog, folder, request.path_params["name"])
        return SafeJSON({**item, "yaml": yaml_text(catalog, folder, item)})

    def _instance(request: Request) -> Instance:
        return runtime.instance(instance_id_param(request))

    async def instance_graph(request: Request) -> Response:
        """``GET /instances/{id}/graph.svg``."""
        try:
            snapshot = await run_in_threadpool(lambda: _instance(request).snapshot())
            return _svg(await drawer.instance_svg(snapshot))
        except WfkitError as error:
            return wfkit_error(error)

    async def definition_graph(request: Request) -> Response:
        """``GET /definitions/{name}/graph.svg``."""
        try:
            name = request.path_params["name"]
            definition = await run_in_threadpool(runtime.definition, name)
            return _svg(await drawer.definition_svg(definition))
        except WfkitError as error:
            return wfkit_error(error)

    async def stream(request: Request) -> Response:
        """``GET /instances/{id}/stream``: Server-Sent Events."""
        if hub.full:
            return SafeJSON(
                {
                    "errorCode": "ERR_WFKIT_UNAVAILABLE",
                    "message": "the server is stopping"
                    if hub.closing
                    else f"this server holds {hub.max_streams} streams, its most; "
                    "close some, or read GET /v1.0/wfkit/instances/{id} instead",
                },
                status_code=503,
            )
        try:
            feed, waiter = await hub.join(instance_id_param(request))
        except WfkitError as error:
            return wfkit_error(error)
        headers = {**SAFE_HEADERS, "X-Accel-Buffering": "no"}
        return StreamingResponse(
            hub.events(feed, waiter), media_type="text/event-stream", headers=headers
        )

    async def openapi(request: Request) -> Response:
        """``GET /openapi.json``: the OpenAPI document of every route of the server."""
        return Response(_openapi_bytes(), media_type="application/json", headers=SAFE_HEADERS)

    instance = PREFIX + "/instances/{instance_id}"
    return [
        Route(PREFIX + "/instances", threaded(list_instances), methods=["GET"]),
        Route(instance, threaded(get_instance), methods=["GET"]),
        Route(instance + "/history", threaded(get_history), methods=["GET"]),
        Route(instance + "/steps", threaded(get_steps), methods=["GET"]),
        Route(instance + "/graph.svg", instance_graph, methods=["GET"]),
        Route(instance + "/stream", stream, methods=["GET"]),
        Route(instance + "/retry", threaded(retry), methods=["POST"]),
        Route(PREFIX + "/definitions", threaded(list_definitions), methods=["GET"]),
        Route(PREFIX + "/definitions/{name}", threaded(get_definition), methods=["GET"]),
        Route(PREFIX + "/definitions/{name}/graph.svg", definition_graph, methods=["GET"]),
        Route(PREFIX + "/openapi.json", openapi, methods=["GET"]),
    ]


@functools.cache
def _openapi_bytes() -> bytes:
    from wfkit import __version__
    from wfkit.server.openapi import document

    return json_bytes(document(__version__))


def _svg(text: str) -> Response:
    return Response(text, media_type="image/svg+xml", headers=_SVG_HEADERS)
