"""Dapr's workflow HTTP API, to the letter, and the side endpoints a Dapr client calls
before its first workflow call (``/v1.0/metadata``, ``/v1.0/healthz``).

The routes, under each of :data:`VERSIONS`, as Dapr's ``pkg/api/http/workflow.go`` has
them (any ``{component}`` is accepted: Dapr no longer checks it)::

    POST /{v}/workflows/{component}/{workflowName}/start[?instanceID=ID]   202 {"instanceID"}
    GET  /{v}/workflows/{component}/{instanceID}                           200 the instance
    POST /{v}/workflows/{component}/{instanceID}/raiseEvent/{eventName}    202
    POST /{v}/workflows/{component}/{instanceID}/terminate                 202
    POST /{v}/workflows/{component}/{instanceID}/pause                     202
    POST /{v}/workflows/{component}/{instanceID}/resume                    202
    POST /{v}/workflows/{component}/{instanceID}/purge                     202

Each one is an operation of the Workflow contract
(:class:`~wfkit.runtime.executor.StepExecutor` over the server's runtime), run in
Starlette's thread pool so that store calls never block the event loop. Bodies are read
by :mod:`wfkit.server.bodies`; failures are answered by :mod:`wfkit.server.dapr_errors`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from wfkit.engine.core.inputs import MAX_ID_LENGTH, check_instance_id
from wfkit.engine.wire.contract import (
    GetRequest,
    PauseRequest,
    PurgeRequest,
    RaiseEventRequest,
    ResumeRequest,
    StartRequest,
    TerminateRequest,
    WorkflowState,
    format_time,
)
from wfkit.errors import InvalidInput, InvalidInstanceId, short
from wfkit.runtime.executor import StepExecutor
from wfkit.server.bodies import body_value, json_bytes
from wfkit.server.context import ServerContext
from wfkit.server.dapr_errors import (
    error_reply,
    instance_id_refusal,
    missing_event_name,
    missing_instance_id,
    missing_workflow_name,
    unreadable_body,
)

__all__ = ["VERSIONS", "routes", "workflow_json"]

VERSIONS = ("v1.0", "v1.0-beta1", "v1.0-alpha1")
"""The API versions under which Dapr has served its workflow routes."""

_TRUE = frozenset({"1", "true", "yes"})


class _Segment(Convertor[str]):
    """A path segment that may be empty, so that ``/workflows/dapr//start`` gets Dapr's
    "workflow name is not configured" rather than "no route"."""

    regex = "[^/]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("segment", _Segment())


def routes(context: ServerContext) -> list[BaseRoute]:
    """The routes of this part."""
    workflows = _WorkflowRoutes(StepExecutor(context.runtime, name="wfkit"))

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

    found: list[BaseRoute] = [
        Route("/v1.0/metadata", metadata, methods=["GET"]),
        Route("/v1.0/healthz", healthz, methods=["GET"]),
        Route("/v1.0/healthz/outbound", healthz, methods=["GET"]),
    ]
    base = "/{version}/workflows/{component:segment}"
    for version in VERSIONS:
        prefix = base.replace("{version}", version)
        one = f"{prefix}/{{instance_id:segment}}"
        found += [
            Route(f"{prefix}/{{name:segment}}/start", workflows.start, methods=["POST"]),
            Route(one, workflows.get, methods=["GET"]),
            Route(f"{one}/raiseEvent/{{event:segment}}", workflows.raise_event, methods=["POST"]),
            Route(f"{one}/terminate", workflows.terminate, methods=["POST"]),
            Route(f"{one}/pause", workflows.pause, methods=["POST"]),
            Route(f"{one}/resume", workflows.resume, methods=["POST"]),
            Route(f"{one}/purge", workflows.purge, methods=["POST"]),
        ]
    return found


def workflow_json(state: WorkflowState) -> dict[str, Any]:
    """An instance as Dapr's HTTP API shows it: ``GetWorkflowResponse`` in protojson
    (``instanceID``, ``workflowName``, ``createdAt``, ``lastUpdatedAt`` in RFC 3339
    UTC, ``runtimeStatus``, ``properties``)."""
    return {
        "instanceID": state.instance_id,
        "workflowName": state.workflow_name,
        "createdAt": format_time(state.created_at),
        "lastUpdatedAt": format_time(state.last_updated_at),
        "runtimeStatus": state.runtime_status.value,
        "properties": state.properties,
    }


_ACCEPTED = b"{}"  # Dapr answers these with protojson's empty message


def _accepted() -> Response:
    return Response(_ACCEPTED, status_code=202, media_type="application/json")


class _WorkflowRoutes:
    """The handlers of the workflow routes, over one Workflow component."""

    def __init__(self, component: StepExecutor) -> None:
        self.component = component

    async def start(self, request: Request) -> Response:
        name = request.path_params["name"]
        query = request.query_params
        instance_id = query.get("instanceID") or query.get("instanceId") or ""
        try:
            instance_id = _new_instance_id(instance_id)
            if not name:
                raise missing_workflow_name()
            data = _input(await _body(request), instance_id, name)
            start = StartRequest(
                instance_id=instance_id, workflow_name=name, workflow_input=json_bytes(data)
            )
            response = await run_in_threadpool(self.component.start, start)
        except Exception as exc:
            return error_reply(exc, "start", instance_id=instance_id, name=name)
        return JSONResponse({"instanceID": response.instance_id}, status_code=202)

    async def get(self, request: Request) -> Response:
        instance_id = request.path_params["instance_id"]
        try:
            _require(instance_id)
            state = await run_in_threadpool(self.component.get, GetRequest(instance_id))
        except Exception as exc:
            return error_reply(exc, "get", instance_id=instance_id)
        return JSONResponse(workflow_json(state.workflow))

    async def raise_event(self, request: Request) -> Response:
        instance_id = request.path_params["instance_id"]
        event = request.path_params["event"]
        try:
            _require(instance_id)
            if not event:
                raise missing_event_name()
            data = await _body(request)
            raised = RaiseEventRequest(instance_id, event, json_bytes(data))
            await run_in_threadpool(self.component.raise_event, raised)
        except Exception as exc:
            return error_reply(exc, "raise_event", instance_id=instance_id)
        return _accepted()

    async def terminate(self, request: Request) -> Response:
        recursive = request.query_params.get("non_recursive", "").lower() not in _TRUE
        return await self._act(
            request, "terminate", lambda iid: TerminateRequest(iid, recursive=recursive)
        )

    async def pause(self, request: Request) -> Response:
        return await self._act(request, "pause", PauseRequest)

    async def resume(self, request: Request) -> Response:
        return await self._act(request, "resume", ResumeRequest)

    async def purge(self, request: Request) -> Response:
        recursive = request.query_params.get("non_recursive", "").lower() not in _TRUE
        return await self._act(request, "purge", lambda iid: PurgeRequest(iid, recursive=recursive))

    async def _act(
        self, request: Request, operation: str, record: Callable[[str], Any]
    ) -> Response:
        """One of the operations that take only an instance id and answer 202."""
        instance_id = request.path_params["instance_id"]
        try:
            _require(instance_id)
            method = getattr(self.component, operation)
            await run_in_threadpool(method, record(instance_id))
        except Exception as exc:
            return error_reply(exc, operation, instance_id=instance_id)
        return _accepted()


def _require(instance_id: str) -> None:
    if not instance_id:
        raise missing_instance_id()


def _new_instance_id(instance_id: str) -> str:
    """The id a start asks for, checked as Dapr checks it (a new uuid4 when empty)."""
    try:
        return check_instance_id(instance_id)
    except InvalidInstanceId:
        raise instance_id_refusal(instance_id, MAX_ID_LENGTH) from None


def _input(value: Any, instance_id: str, name: str) -> dict[str, Any] | None:
    """A start's input: an object of named inputs, or None."""
    if value is None or isinstance(value, dict):
        return value
    kind = "text" if isinstance(value, str) else f"JSON {type(value).__name__}"
    shown = short(json.dumps(value, ensure_ascii=False), 40)
    problem = (
        f'the input must be a JSON object of named inputs, such as {{"name": value}}, '
        f"not {kind} {shown}"
    )
    raise InvalidInput(instance_id, name, [problem])


async def _body(request: Request) -> Any:
    """The request body's JSON value (:mod:`wfkit.server.bodies`)."""
    try:
        body = await request.body()
    except ClientDisconnect:
        raise unreadable_body("the client closed the connection before sending it all") from None
    return body_value(body, request.headers.get("content-type"))


def _version() -> str:
    from wfkit import __version__

    return __version__


def _redacted_store(context: ServerContext) -> str:
    from wfkit.store import redact

    return redact(context.runtime.settings.store)
