"""The OpenAPI 3.1 document of every route of ``wfkit serve``, served at
``/v1.0/wfkit/openapi.json``.

Written here, by hand, route by route, in one table (:func:`operations`): a test
(``tests/server/test_openapi.py``) holds it against the application's route table, so
that every route is documented and nothing is documented that does not exist, and a
schema-based fuzzer (schemathesis) holds every reply against the schemas below.
"""

from __future__ import annotations

from typing import Any

from wfkit.server.api_support import PREFIX
from wfkit.server.dapr_api import VERSIONS as DAPR_VERSIONS
from wfkit.server.limits import (
    HISTORY_PAGE,
    INSTANCES_PAGE_SIZE,
    MAX_HISTORY_PAGE,
    MAX_INSTANCES_PAGE,
)
from wfkit.server.openapi_schemas import (
    ACCEPTED,
    COMPONENTS,
    DAPR_INSTANCE,
    DEFINITION,
    DEFINITIONS,
    EVENTS_PAGE,
    INSTANCE,
    INSTANCES_PAGE,
    STARTED,
    STEPS,
    error_responses,
    json_reply,
    ref,
)

__all__ = ["document", "operations"]


Operation = dict[str, Any]


def _path(name: str, description: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _whole(name: str, description: str, least: int, most: int, default: int) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": least, "maximum": most, "default": default}
    return _query(name, description, schema)


def _text(media: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


_STR = {"type": "string"}
_INSTANCE_ID = _path("instanceID", "the instance id", "^[^/]+$")
_NAME = _path("name", "the workflow name", "^[^/]+$")
_BODY = {
    "required": False,
    "content": {"application/json": {"schema": {}}, "text/plain": {"schema": {"type": "string"}}},
}


def _op(summary: str, op_id: str, ok: dict[str, Any], *errors: int, **more: Any) -> Operation:
    return {
        "summary": summary,
        "operationId": op_id,
        "tags": [more.pop("tag", "wfkit")],
        "responses": {**ok, **error_responses(*errors)},
        **more,
    }


def _wfkit_operations() -> dict[str, dict[str, Operation]]:
    one = PREFIX + "/instances/{instanceID}"
    statuses = {"type": "string", "description": "a runtime status (any case)"}
    return {
        PREFIX + "/instances": {
            "get": _op(
                "Instances, newest first, a page at a time",
                "listInstances",
                {"200": json_reply("a page of instances", ref(INSTANCES_PAGE))},
                400,
                parameters=[
                    _query("status", "only these runtime statuses (repeatable)", statuses),
                    _query("name", "only this workflow", _STR),
                    _whole("limit", "page size", 1, MAX_INSTANCES_PAGE, INSTANCES_PAGE_SIZE),
                    _query("cursor", "the nextCursor of the previous page", _STR),
                ],
            )
        },
        one: {
            "get": _op(
                "An instance with its steps, awaited events and graph version",
                "getInstance",
                {"200": json_reply("the instance", ref(INSTANCE))},
                404,
                parameters=[_INSTANCE_ID],
            )
        },
        one + "/history": {
            "get": _op(
                "An instance's history events, a page at a time",
                "getHistory",
                {"200": json_reply("a page of events", ref(EVENTS_PAGE))},
                400,
                404,
                parameters=[
                    _INSTANCE_ID,
                    _whole("after", "events after this seq", 0, 2**31 - 1, 0),
                    _whole("limit", "page size", 1, MAX_HISTORY_PAGE, HISTORY_PAGE),
                ],
            )
        },
        one + "/steps": {
            "get": _op(
                "An instance's steps: status, attempts, output, error, captured output",
                "getSteps",
                {"200": json_reply("the steps", ref(STEPS))},
                404,
                parameters=[_INSTANCE_ID],
            )
        },
    }


def _instance_views() -> dict[str, dict[str, Operation]]:
    one = PREFIX + "/instances/{instanceID}"
    return {
        one + "/graph.svg": {
            "get": _op(
                "An instance's graph, steps coloured by status",
                "getInstanceGraph",
                {"200": _text("image/svg+xml", "the graph")},
                404,
                500,
                parameters=[_INSTANCE_ID],
            )
        },
        one + "/stream": {
            "get": _op(
                "Server-Sent Events: `event: instance` (the instance's JSON) now and after "
                "every change, `event: end` once it ended, `: ping` every 15 s",
                "streamInstance",
                {"200": _text("text/event-stream", "the event stream")},
                404,
                503,
                parameters=[_INSTANCE_ID],
            )
        },
        one + "/retry": {
            "post": _op(
                "Run a FAILED instance again from its failed steps",
                "retryInstance",
                {"202": json_reply("retrying", {"type": "object"})},
                404,
                409,
                parameters=[_INSTANCE_ID],
            )
        },
    }


def _definition_operations() -> dict[str, dict[str, Operation]]:
    return {
        PREFIX + "/definitions": {
            "get": _op(
                "The definitions of the folder, with their problems",
                "listDefinitions",
                {"200": json_reply("every definition file", ref(DEFINITIONS))},
            )
        },
        PREFIX + "/definitions/{name}": {
            "get": _op(
                "One definition and its YAML text",
                "getDefinition",
                {"200": json_reply("the definition", ref(DEFINITION))},
                404,
                parameters=[_NAME],
            )
        },
        PREFIX + "/definitions/{name}/graph.svg": {
            "get": _op(
                "A definition's graph",
                "getDefinitionGraph",
                {"200": _text("image/svg+xml", "the graph")},
                400,
                404,
                500,
                parameters=[_NAME],
            )
        },
        PREFIX + "/openapi.json": {
            "get": _op(
                "This document",
                "getOpenApi",
                {"200": json_reply("the OpenAPI document", {"type": "object"})},
            )
        },
    }


_DAPR_REFUSALS = (
    "ERR_BODY_READ",
    "ERR_INSTANCE_ID_INVALID",
    "ERR_INSTANCE_ID_PROVIDED_MISSING",
    "ERR_INSTANCE_ID_TOO_LONG",
    "ERR_WORKFLOW_EVENT_NAME_MISSING",
    "ERR_WORKFLOW_NAME_MISSING",
)
"""The 400 codes Dapr's routes answer before any operation runs (Dapr's own checks)."""


def _dapr_op(operation: str, op_id: str, ok: dict[str, Any], **more: Any) -> Operation:
    """A Dapr route's operation: its error statuses and the codes each may carry, from
    the routes' own table (:data:`wfkit.server.dapr_errors.DAPR_ERRORS`)."""
    from wfkit.server.dapr_errors import DAPR_ERRORS, OPERATION_CODE, OPERATION_FAILURES

    own = OPERATION_FAILURES[operation][0]
    codes: dict[int, set[str]] = {400: set(_DAPR_REFUSALS), 500: {own}}
    for reply in DAPR_ERRORS.values():
        code = own if reply.code == OPERATION_CODE else reply.code
        codes.setdefault(reply.status, set()).add(code)
    found = _op(more.pop("summary"), op_id, ok, *codes, tag="dapr", **more)
    for status, named in codes.items():
        found["responses"][str(status)]["description"] += "; errorCode: " + ", ".join(sorted(named))
    return found


def _dapr_operations(version: str) -> dict[str, dict[str, Operation]]:
    base = f"/{version}/workflows/{{component}}"
    one = base + "/{instanceID}"
    component = _path("component", "any workflow component name (not checked, as Dapr)")
    ids = [component, _INSTANCE_ID]
    suffix = "" if version == "v1.0" else "_" + version.split("-")[1]

    def act(verb: str, summary: str, *extra: dict[str, Any]) -> Operation:
        return _dapr_op(
            verb,
            f"{_camel(verb)}Workflow{suffix}",
            {"202": json_reply("accepted", ref(ACCEPTED))},
            summary=summary,
            parameters=[*ids, *extra],
        )

    recursive = _query("non_recursive", "true: leave child instances alone", _STR)
    event = _path("eventName", "the event name")
    return {
        base + "/{name}/start": {
            "post": _dapr_op(
                "start",
                f"startWorkflow{suffix}",
                {"202": json_reply("started", ref(STARTED))},
                summary="Start an instance of a workflow (the body is its input)",
                parameters=[
                    component,
                    _NAME,
                    _query("instanceID", "the new instance's id (default: a uuid4)", _STR),
                ],
                requestBody=_BODY,
            )
        },
        one: {
            "get": _dapr_op(
                "get",
                f"getWorkflow{suffix}",
                {"200": json_reply("the instance", ref(DAPR_INSTANCE))},
                summary="An instance, as Dapr shows it",
                parameters=ids,
            )
        },
        one + "/raiseEvent/{eventName}": {
            "post": {
                **act("raise_event", "Send an event (the body is its data)", event),
                "requestBody": _BODY,
            }
        },
        one + "/terminate": {"post": act("terminate", "Terminate an instance", recursive)},
        one + "/pause": {"post": act("pause", "Pause an instance between steps")},
        one + "/resume": {"post": act("resume", "Resume a paused instance")},
        one + "/purge": {"post": act("purge", "Delete an ended instance and history", recursive)},
    }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _side_operations() -> dict[str, dict[str, Operation]]:
    empty = {"204": {"description": "healthy"}}
    return {
        "/v1.0/metadata": {
            "get": _op(
                "What a Dapr client reads first: the sidecar's metadata",
                "getMetadata",
                {"200": json_reply("metadata", {"type": "object", "minProperties": 1})},
                tag="dapr",
            )
        },
        "/v1.0/healthz": {"get": _op("Health", "getHealth", empty, tag="dapr", security=[])},
        "/v1.0/healthz/outbound": {
            "get": _op("Outbound health", "getOutboundHealth", empty, tag="dapr", security=[])
        },
        "/": {
            "get": _op(
                "The dashboard page (HTML; its scripts read the routes above)",
                "getDashboard",
                {"200": _text("text/html", "the page")},
                tag="dashboard",
                security=[],
            )
        },
        "/favicon.ico": {
            "get": _op(
                "The dashboard's icon",
                "getIcon",
                {"200": _text("image/svg+xml", "the icon")},
                tag="dashboard",
                security=[],
            )
        },
        "/static/status.css": {
            "get": _op(
                "The status colours of the dashboard, from the notebook's palette",
                "getStatusColours",
                {"200": _text("text/css", "the stylesheet")},
                tag="dashboard",
                security=[],
            )
        },
    }


def operations() -> dict[str, dict[str, Operation]]:
    """Every route of the server: path -> method (lower case) -> its operation."""
    paths = {
        **_side_operations(),
        **_wfkit_operations(),
        **_instance_views(),
        **_definition_operations(),
    }
    for version in DAPR_VERSIONS:
        paths.update(_dapr_operations(version))
    return paths


def document(version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document; ``version`` is wfkit's."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wfkit serve",
            "version": version,
            "description": "Dapr's workflow HTTP API, wfkit's own routes and the dashboard. "
            "When the server has a token, every route but the dashboard page and the health "
            "checks needs it (dapr-api-token header, or Authorization: Bearer).",
        },
        "paths": operations(),
        "components": COMPONENTS,
        "security": [{"daprToken": []}, {"bearer": []}, {}],
    }
