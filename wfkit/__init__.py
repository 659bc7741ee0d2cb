"""wfkit: declarative, durable, Jupyter-friendly workflows.

Declare a workflow as a YAML step graph, validate it, draw it, and run it from a notebook
or a terminal; pause it between steps, send it events, and trust that a crash loses
nothing::

    import wfkit
    engine = wfkit.open("definitions")          # state in .wfkit/wfkit.db (SQLite)
    engine.definition("sales-pipeline")         # in a notebook: the step graph as SVG
    run = engine.run("sales-pipeline")
    run.status, run.output

``StepExecutor`` implements Dapr's workflow component interface (``init``, ``start``,
``get``, ``terminate``, ``raise_event``, ``purge``, ``pause``, ``resume``) over the same engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from wfkit.definition.display import register_renderer_module

__version__ = "0.1.0"

# This module is the facade above every layer, not a layer: its lazy table below and the
# module names given here point down from the top, and the layer checks
# (tests/test_architecture.py) do not count them. It runs before any wfkit module, so the
# views layer it names here is always found when needed: notebook renderers and the live
# panel of instance.widget() load on the first display or panel, not at import.
register_renderer_module("wfkit.views")

#: Public name -> the module that defines it ("module:attribute" when renamed). Loaded on
#: first use (PEP 562), so that ``import wfkit`` and the ``wfkit`` command start fast.
_EXPORTS: dict[str, str] = {
    "Catalog": "wfkit.graph",
    "ContractError": "wfkit.errors",
    "Definition": "wfkit.definition",
    "DefinitionError": "wfkit.errors",
    "Duration": "wfkit.definition",
    "EdgeView": "wfkit.graph",
    "ErrNotImplemented": "wfkit.errors",
    "ErrorCategory": "wfkit.errors",
    "EventBufferFull": "wfkit.errors",
    "Expression": "wfkit.definition",
    "ExpressionBudgetExceeded": "wfkit.errors",
    "ForeachTooWide": "wfkit.errors",
    "GetRequest": "wfkit.engine.wire.contract",
    "GraphView": "wfkit.graph",
    "HistoryDecodeError": "wfkit.errors",
    "IllegalTransition": "wfkit.errors",
    "InputSpec": "wfkit.definition",
    "Instance": "wfkit.runtime.api",
    "InstanceAlreadyExists": "wfkit.errors",
    "InstanceBusy": "wfkit.errors",
    "InstanceError": "wfkit.errors",
    "InstanceFailed": "wfkit.errors",
    "InstanceNotFound": "wfkit.errors",
    "InvalidEventData": "wfkit.errors",
    "InvalidEventName": "wfkit.errors",
    "InvalidInput": "wfkit.errors",
    "InvalidInstanceId": "wfkit.errors",
    "InvalidJsonText": "wfkit.errors",
    "InvalidPurgeFilter": "wfkit.errors",
    "Metadata": "wfkit.engine.wire.contract",
    "NotInitialized": "wfkit.errors",
    "OnError": "wfkit.definition",
    "OutputError": "wfkit.errors",
    "OutputTooLarge": "wfkit.errors",
    "PauseRequest": "wfkit.engine.wire.contract",
    "PinnedDefinitionMissing": "wfkit.errors",
    "Problem": "wfkit.errors",
    "PurgeRequest": "wfkit.engine.wire.contract",
    "RaiseEventRequest": "wfkit.engine.wire.contract",
    "RenderError": "wfkit.errors",
    "ResumeRequest": "wfkit.engine.wire.contract",
    "RetryPolicy": "wfkit.definition",
    "RunnerClosed": "wfkit.errors",
    "RunnerUnavailable": "wfkit.errors",
    "Runtime": "wfkit.runtime.api",
    "RuntimeStatus": "wfkit.engine.core.status",
    "SettingsError": "wfkit.errors",
    "StartRequest": "wfkit.engine.wire.contract",
    "StartResponse": "wfkit.engine.wire.contract",
    "StateResponse": "wfkit.engine.wire.contract",
    "Step": "wfkit.definition",
    "StepExecutor": "wfkit.runtime.executor",
    "StepInfo": "wfkit.runtime.api",
    "StepKind": "wfkit.definition",
    "StepStatus": "wfkit.engine.core.status",
    "StepView": "wfkit.graph",
    "StoreError": "wfkit.errors",
    "Template": "wfkit.definition",
    "TerminateRequest": "wfkit.engine.wire.contract",
    "UnknownCondition": "wfkit.errors",
    "UnknownEventWarning": "wfkit.errors",
    "UnknownRunner": "wfkit.errors",
    "UnknownStatus": "wfkit.errors",
    "UnknownStep": "wfkit.errors",
    "UnknownWorkflow": "wfkit.errors",
    "VersionConflict": "wfkit.errors",
    "WaitSpec": "wfkit.definition",
    "WfkitError": "wfkit.errors",
    "Workflow": "wfkit.engine.wire.contract",
    "WorkflowState": "wfkit.engine.wire.contract",
    "build_graph": "wfkit.graph",
    "build_view": "wfkit.graph",
    "load_catalog": "wfkit.graph",
    "load_definition": "wfkit.graph",
    "load_schema": "wfkit.definition",
    "open": "wfkit.runtime.api:open_runtime",
    "output": "wfkit.steps.output",
    "parse_definition": "wfkit.graph",
    "schema_text": "wfkit.definition",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    where = _EXPORTS.get(name)
    if where is None:
        raise AttributeError(f"module 'wfkit' has no attribute {name!r}")
    module, _, attribute = where.partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value
    return value


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext wfkit``: the ``%wfkit`` and ``%%wfkit`` magics (:mod:`wfkit.views.magics`)."""
    importlib.import_module("wfkit.views.magics").load_ipython_extension(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext wfkit``."""
    importlib.import_module("wfkit.views.magics").unload_ipython_extension(ipython)


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:
    from wfkit.definition import Definition as Definition
    from wfkit.definition import Duration as Duration
    from wfkit.definition import Expression as Expression
    from wfkit.definition import InputSpec as InputSpec
    from wfkit.definition import OnError as OnError
    from wfkit.definition import RetryPolicy as RetryPolicy
    from wfkit.definition import Step as Step
    from wfkit.definition import StepKind as StepKind
    from wfkit.definition import Template as Template
    from wfkit.definition import WaitSpec as WaitSpec
    from wfkit.definition import load_schema as load_schema
    from wfkit.definition import schema_text as schema_text
    from wfkit.engine.core.status import RuntimeStatus as RuntimeStatus
    from wfkit.engine.core.status import StepStatus as StepStatus
    from wfkit.engine.wire.contract import GetRequest as GetRequest
    from wfkit.engine.wire.contract import Metadata as Metadata
    from wfkit.engine.wire.contract import PauseRequest as PauseRequest
    from wfkit.engine.wire.contract import PurgeRequest as PurgeRequest
    from wfkit.engine.wire.contract import RaiseEventRequest as RaiseEventRequest
    from wfkit.engine.wire.contract import ResumeRequest as ResumeRequest
    from wfkit.engine.wire.contract import StartRequest as StartRequest
    from wfkit.engine.wire.contract import StartResponse as StartResponse
    from wfkit.engine.wire.contract import StateResponse as StateResponse
    from wfkit.engine.wire.contract import TerminateRequest as TerminateRequest
    from wfkit.engine.wire.contract import Workflow as Workflow
    from wfkit.engine.wire.contract import WorkflowState as WorkflowState
    from wfkit.errors import ContractError as ContractError
    from wfkit.errors import DefinitionError as DefinitionError
    from wfkit.errors import ErrNotImplemented as ErrNotImplemented
    from wfkit.errors import ErrorCategory as ErrorCategory
    from wfkit.errors import EventBufferFull as EventBufferFull
    from wfkit.errors import ExpressionBudgetExceeded as ExpressionBudgetExceeded
    from wfkit.errors import ForeachTooWide as ForeachTooWide
    from wfkit.errors import HistoryDecodeError as HistoryDecodeError
    from wfkit.errors import IllegalTransition as IllegalTransition
    from wfkit.errors import InstanceAlreadyExists as InstanceAlreadyExists
    from wfkit.errors import InstanceBusy as InstanceBusy
    from wfkit.errors import InstanceError as InstanceError
    from wfkit.errors import InstanceFailed as InstanceFailed
    from wfkit.errors import InstanceNotFound as InstanceNotFound
    from wfkit.errors import InvalidEventData as InvalidEventData
    from wfkit.errors import InvalidEventName as InvalidEventName
    from wfkit.errors import InvalidInput as InvalidInput
    from wfkit.errors import InvalidInstanceId as InvalidInstanceId
    from wfkit.errors import InvalidJsonText as InvalidJsonText
    from wfkit.errors import InvalidPurgeFilter as InvalidPurgeFilter
    from wfkit.errors import NotInitialized as NotInitialized
    from wfkit.errors import OutputError as OutputError
    from wfkit.errors import OutputTooLarge as OutputTooLarge
    from wfkit.errors import PinnedDefinitionMissing as PinnedDefinitionMissing
    from wfkit.errors import Problem as Problem
    from wfkit.errors import RenderError as RenderError
    from wfkit.errors import RunnerClosed as RunnerClosed
    from wfkit.errors import RunnerUnavailable as RunnerUnavailable
    from wfkit.errors import SettingsError as SettingsError
    from wfkit.errors import StoreError as StoreError
    from wfkit.errors import UnknownCondition as UnknownCondition
    from wfkit.errors import UnknownEventWarning as UnknownEventWarning
    from wfkit.errors import UnknownRunner as UnknownRunner
    from wfkit.errors import UnknownStatus as UnknownStatus
    from wfkit.errors import UnknownStep as UnknownStep
    from wfkit.errors import UnknownWorkflow as UnknownWorkflow
    from wfkit.errors import VersionConflict as VersionConflict
    from wfkit.errors import WfkitError as WfkitError
    from wfkit.graph import Catalog as Catalog
    from wfkit.graph import EdgeView as EdgeView
    from wfkit.graph import GraphView as GraphView
    from wfkit.graph import StepView as StepView
    from wfkit.graph import build_graph as build_graph
    from wfkit.graph import build_view as build_view
    from wfkit.graph import load_catalog as load_catalog
    from wfkit.graph import load_definition as load_definition
    from wfkit.graph import parse_definition as parse_definition
    from wfkit.runtime.api import Instance as Instance
    from wfkit.runtime.api import Runtime as Runtime
    from wfkit.runtime.api import StepInfo as StepInfo
    from wfkit.runtime.api import open_runtime as open  # noqa: F401 - exported by __getattr__
    from wfkit.runtime.executor import StepExecutor as StepExecutor
    from wfkit.steps.output import output as output
