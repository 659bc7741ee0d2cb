"""The JSON Schemas of the bodies in the OpenAPI document (:mod:`wfkit.server.openapi`):
what the routes answer, as the CLI's ``--json`` forms and Dapr's replies have them."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ACCEPTED",
    "COMPONENTS",
    "DAPR_INSTANCE",
    "DEFINITION",
    "DEFINITIONS",
    "ERROR",
    "EVENTS_PAGE",
    "INSTANCE",
    "INSTANCES_PAGE",
    "STARTED",
    "STEPS",
    "error_responses",
    "json_reply",
    "ref",
]

ERROR, ROW, INSTANCE, INSTANCES_PAGE = "Error", "InstanceRow", "Instance", "InstancesPage"
STEP, STEPS, EVENT, EVENTS_PAGE = "Step", "Steps", "HistoryEvent", "EventsPage"
DEFINITION_ITEM, DEFINITIONS, DEFINITION = "DefinitionItem", "Definitions", "Definition"
STARTED, DAPR_INSTANCE, ACCEPTED = "Started", "DaprInstance", "Accepted"

_STRING = {"type": "string"}
_TIME = {"type": "string", "description": "RFC 3339, UTC"}
_TIME_OR_NULL = {"type": ["string", "null"], "description": "RFC 3339, UTC"}
_STRING_OR_NULL = {"type": ["string", "null"]}
_ANY: dict[str, Any] = {}


def ref(name: str) -> dict[str, str]:
    """A reference to the schema ``name`` of :data:`COMPONENTS`."""
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": sorted(required),
        "properties": {**required, **(optional or {})},
    }


_ERROR_WHY = {
    400: "the request is wrong (a parameter, an id, a body)",
    401: "the server's token is missing or wrong (ERR_UNAUTHORIZED)",
    404: "no such instance, workflow or route",
    405: "the route does not take this method (ERR_METHOD_NOT_ALLOWED)",
    409: "the instance's state does not allow it",
    413: "the body or a value is over a limit (a body: ERR_BODY_TOO_LARGE)",
    500: "an error of wfkit's (no stack trace: the server's log has it)",
    501: "not implemented",
    503: "the store cannot serve now, or too many streams",
}


def json_reply(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A response with a JSON body."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error_responses(*statuses: int) -> dict[str, Any]:
    """The error responses ``statuses`` (and 401, 405 and 413, which any route may
    answer: the token, the method, the body limit), each ``{"errorCode", "message"}``."""
    found = sorted({*statuses, 401, 405, 413})
    return {str(status): json_reply(_ERROR_WHY[status], ref(ERROR)) for status in found}


_OWNER = {
    "type": "object",
    "properties": {
        "state": _STRING,
        "owner": _STRING_OR_NULL,
        "leaseUntil": {"type": ["number", "null"]},
        "processGone": {"type": ["boolean", "null"]},
        "lastOwner": _STRING_OR_NULL,
        "lastOwnerUntil": {"type": ["number", "null"]},
        "description": _STRING,
    },
}

_ROW_FIELDS: dict[str, Any] = {
    "instanceID": _STRING,
    "workflowName": _STRING,
    "runtimeStatus": _STRING,
    "startedAt": _TIME,
    "lastUpdatedAt": _TIME,
    "customStatus": _STRING_OR_NULL,
    "input": _ANY,
    "output": _ANY,
    "failure": _ANY,
    "parentID": _STRING_OR_NULL,
    "owner": _OWNER,
    "properties": {"type": "object", "additionalProperties": _STRING},
}

_FAILURE = _object({"type": _STRING, "message": _STRING, "stack_trace": _STRING})

_STEP = _object(
    {
        "status": _STRING,
        "output": _ANY,
        "attempts": {"type": "integer"},
        "startedAt": _TIME_OR_NULL,
        "endedAt": _TIME_OR_NULL,
        "items": {"type": ["integer", "null"]},
        "error": {"oneOf": [{"type": "null"}, _FAILURE]},
    },
    {"details": {"type": "object", "description": "stdout/stderr tails, exit code..."}},
)

_AWAITING = {"type": "array", "items": _object({"step": _STRING, "event": _STRING})}

_PROBLEM = _object(
    {
        "file": _STRING,
        "line": {"type": "integer"},
        "column": {"type": "integer"},
        "message": _STRING,
        "hint": _STRING,
    }
)

_DEFINITION_FIELDS: dict[str, Any] = {
    "name": _STRING_OR_NULL,
    "file": _STRING,
    "description": _STRING,
    "valid": {"type": "boolean"},
    "problems": {"type": "array", "items": _PROBLEM},
    "inputs": {"type": "object", "additionalProperties": {"type": "object"}},
    "events": {"type": "array", "items": _STRING},
}

COMPONENTS: dict[str, Any] = {
    "schemas": {
        ERROR: _object({"errorCode": _STRING, "message": _STRING}),
        ROW: _object(_ROW_FIELDS),
        INSTANCE: _object(
            {
                **_ROW_FIELDS,
                "steps": {"type": "object", "additionalProperties": ref(STEP)},
                "awaiting": _AWAITING,
                "graphVersion": _STRING,
                "version": {"type": "integer"},
            }
        ),
        INSTANCES_PAGE: _object(
            {"instances": {"type": "array", "items": ref(ROW)}, "nextCursor": _STRING_OR_NULL}
        ),
        STEP: _STEP,
        STEPS: _object({"steps": {"type": "object", "additionalProperties": ref(STEP)}}),
        EVENT: _object({"seq": {"type": "integer"}, "type": _STRING, "at": _TIME}),
        EVENTS_PAGE: _object(
            {
                "events": {"type": "array", "items": ref(EVENT)},
                "next": {"type": ["integer", "null"]},
            }
        ),
        DEFINITION_ITEM: _object(_DEFINITION_FIELDS),
        DEFINITIONS: _object({"definitions": {"type": "array", "items": ref(DEFINITION_ITEM)}}),
        DEFINITION: _object({**_DEFINITION_FIELDS, "yaml": _STRING_OR_NULL}),
        STARTED: _object({"instanceID": _STRING}),
        DAPR_INSTANCE: _object(
            {
                "instanceID": _STRING,
                "workflowName": _STRING,
                "createdAt": _TIME,
                "lastUpdatedAt": _TIME,
                "runtimeStatus": _STRING,
                "properties": {"type": "object", "additionalProperties": _STRING},
            }
        ),
        ACCEPTED: {"type": "object"},
    },
    "securitySchemes": {
        "daprToken": {"type": "apiKey", "in": "header", "name": "dapr-api-token"},
        "bearer": {"type": "http", "scheme": "bearer"},
    },
}
"""The ``components`` of the document: schemas and the token's two forms."""
