"""The Dapr workflow component contract, end to end through StepExecutor."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import wfkit
from wfkit import (
    ErrNotImplemented,
    GetRequest,
    InstanceNotFound,
    Metadata,
    PauseRequest,
    PurgeRequest,
    RaiseEventRequest,
    ResumeRequest,
    RuntimeStatus,
    StartRequest,
    StepExecutor,
    TerminateRequest,
    Workflow,
)
from wfkit.runtime.settings import SettingsError

DEFINITION = """\
wfkit: 1
name: greet
inputs: {who: {type: string, default: world}}
steps:
  hello: {call: "greetsteps:hello", with: {who: "${{ inputs.who }}"}}
  approve: {wait: {event: approved}, needs: [hello]}
output: {greeting: "${{ steps.hello.output }}", by: "${{ steps.approve.output.by }}"}
"""


@pytest.fixture
def executor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    (definitions / "greet.yaml").write_text(DEFINITION)
    (definitions / "greetsteps.py").write_text("def hello(who):\n    return f'hello {who}'\n")
    monkeypatch.chdir(tmp_path)
    component = StepExecutor()
    component.init(
        Metadata(
            name="wfkit",
            properties={
                "definitions": str(definitions),
                "store": f"sqlite:///{tmp_path / 'db' / 'state.db'}",
                "workers": "2",
            },
        )
    )
    yield component
    component.close()


def _wait_status(component: StepExecutor, instance_id: str, *wanted: RuntimeStatus) -> Any:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = component.get(GetRequest(instance_id=instance_id)).workflow
        if state.runtime_status in wanted:
            return state
        time.sleep(0.02)
    raise AssertionError(f"{instance_id} never reached {wanted}")


def test_the_whole_lifecycle_through_contract_records(executor: StepExecutor) -> None:
    started = executor.start(
        StartRequest(instance_id="g1", workflow_name="greet", workflow_input=b'{"who": "ana"}')
    )
    assert started.instance_id == "g1"
    state = _wait_status(executor, "g1", RuntimeStatus.RUNNING)
    assert state.workflow_name == "greet"
    waiting = "waiting for event 'approved'"
    for _ in range(500):
        state = executor.get(GetRequest(instance_id="g1")).workflow
        if state.properties["dapr.workflow.custom_status"] == waiting:
            break
        time.sleep(0.02)
    assert state.properties["dapr.workflow.custom_status"] == waiting
    executor.pause(PauseRequest(instance_id="g1"))
    assert _wait_status(executor, "g1", RuntimeStatus.SUSPENDED)
    executor.raise_event(
        RaiseEventRequest(instance_id="g1", event_name="Approved", event_data=b'{"by": "bo"}')
    )
    executor.resume(ResumeRequest(instance_id="g1"))
    done = _wait_status(executor, "g1", RuntimeStatus.COMPLETED)
    assert json.loads(done.properties["dapr.workflow.output"]) == {
        "greeting": "hello ana",
        "by": "bo",
    }
    assert done.last_updated_at >= done.created_at
    as_json = executor.get(GetRequest(instance_id="g1")).to_json()
    assert set(as_json["workflow"]) == {
        "instanceID",
        "workflowName",
        "startedAt",
        "lastUpdatedAt",
        "runtimeStatus",
        "properties",
    }
    assert as_json["workflow"]["runtimeStatus"] == "COMPLETED"
    assert as_json["workflow"]["startedAt"].endswith("Z")
    executor.purge(PurgeRequest(instance_id="g1"))
    with pytest.raises(InstanceNotFound):
        executor.get(GetRequest(instance_id="g1"))


def test_empty_instance_id_gets_a_uuid_and_terminate_is_final(executor: StepExecutor) -> None:
    started = executor.start(StartRequest(workflow_name="greet"))
    assert len(started.instance_id) == 36
    _wait_status(executor, started.instance_id, RuntimeStatus.RUNNING)
    executor.terminate(TerminateRequest(instance_id=started.instance_id))
    state = _wait_status(executor, started.instance_id, RuntimeStatus.TERMINATED)
    assert state.properties["dapr.workflow.failure.error_type"] == "Terminated"
    executor.terminate(TerminateRequest(instance_id=started.instance_id))  # a no-op


def test_raise_event_to_an_unknown_instance_is_an_error(executor: StepExecutor) -> None:
    with pytest.raises(InstanceNotFound):
        executor.raise_event(RaiseEventRequest(instance_id="nobody", event_name="x"))


def test_unknown_settings_are_refused_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        StepExecutor().init(Metadata(name="wfkit", properties={"stores": "sqlite:///x.db"}))
    assert "unknown setting 'stores'" in str(info.value)
    assert "definitions, store, workers" in str(info.value)
    assert "did you mean 'store'?" in str(info.value)


def test_the_abstract_component_raises_dapr_err_not_implemented() -> None:
    class Nothing(Workflow):
        pass

    with pytest.raises(ErrNotImplemented) as info:
        Nothing().start(StartRequest(workflow_name="x"))
    assert str(info.value) == "this component doesn't implement the current API operation"


def test_wfkit_exports_the_contract() -> None:
    for name in (
        "Workflow",
        "ErrNotImplemented",
        "Metadata",
        "StartRequest",
        "StartResponse",
        "GetRequest",
        "StateResponse",
        "WorkflowState",
        "TerminateRequest",
        "RaiseEventRequest",
        "PurgeRequest",
        "PauseRequest",
        "ResumeRequest",
        "RuntimeStatus",
        "StepExecutor",
    ):
        assert name in wfkit.__all__, name
    assert [s.value for s in RuntimeStatus] == [
        "RUNNING",
        "COMPLETED",
        "CONTINUED_AS_NEW",
        "FAILED",
        "CANCELED",
        "TERMINATED",
        "PENDING",
        "SUSPENDED",
    ]
