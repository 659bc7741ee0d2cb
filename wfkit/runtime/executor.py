"""``StepExecutor``: Dapr's workflow component interface, implemented by the wfkit engine.

::

    executor = StepExecutor()
    executor.init(Metadata(name="wfkit", properties={"definitions": "definitions"}))
    response = executor.start(StartRequest(workflow_name="sales-pipeline"))
    state = executor.get(GetRequest(response.instance_id)).workflow
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from wfkit.engine.core.status import RuntimeStatus
from wfkit.engine.wire.contract import (
    GetRequest,
    Metadata,
    PauseRequest,
    PurgeRequest,
    RaiseEventRequest,
    ResumeRequest,
    StartRequest,
    StartResponse,
    StateResponse,
    TerminateRequest,
    Workflow,
    WorkflowState,
)
from wfkit.engine.wire.summary import stored_properties
from wfkit.errors import NotInitialized
from wfkit.runtime.api import Runtime
from wfkit.runtime.ownership import ownership
from wfkit.runtime.settings import Settings

__all__ = ["StepExecutor"]


class StepExecutor(Workflow):
    """The workflow component: every operation of Dapr's interface, durably.

    ``init`` takes the properties ``definitions`` (folder), ``store`` (URL) and
    ``workers``; after it, instances run in background threads of this process.
    ``StepExecutor(runtime)`` serves a runtime opened elsewhere (the HTTP server's)
    without ``init``; closing that runtime stays its opener's job.
    """

    def __init__(self, runtime: Runtime | None = None, name: str = "") -> None:
        self._runtime: Runtime | None = runtime
        self.name = name

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            raise NotInitialized()
        return self._runtime

    def init(self, metadata: Metadata) -> None:
        if self._runtime is not None:
            self._runtime.close()
        self.name = metadata.name
        self._runtime = Runtime(Settings.from_properties(metadata.properties))

    def start(self, request: StartRequest) -> StartResponse:
        data = _json(request.workflow_input)
        instance_id = self.runtime.workflows.start(request.workflow_name, data, request.instance_id)
        return StartResponse(instance_id=instance_id)

    def get(self, request: GetRequest) -> StateResponse:
        row = self.runtime.workflows.get(request.instance_id)
        return StateResponse(
            workflow=WorkflowState(
                instance_id=row.instance_id,
                workflow_name=row.workflow_name,
                created_at=_time(row.created_at),
                last_updated_at=_time(row.updated_at),
                runtime_status=RuntimeStatus(row.status),
                properties={**stored_properties(row), **ownership(row).properties()},
            )
        )

    def terminate(self, request: TerminateRequest) -> None:
        self.runtime.workflows.terminate(request.instance_id, recursive=request.recursive)

    def raise_event(self, request: RaiseEventRequest) -> None:
        self.runtime.workflows.get(request.instance_id)  # unknown instance: an error
        self.runtime.workflows.raise_event(
            request.instance_id, request.event_name, _json(request.event_data)
        )

    def purge(self, request: PurgeRequest) -> None:
        self.runtime.workflows.purge(request.instance_id, recursive=request.recursive)

    def pause(self, request: PauseRequest) -> None:
        self.runtime.workflows.pause(request.instance_id)

    def resume(self, request: ResumeRequest) -> None:
        self.runtime.workflows.resume(request.instance_id)

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


def _json(data: bytes | None) -> Any:
    return None if data is None else json.loads(data)


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)
