"""wfkit: declarative, durable, Jupyter-friendly workflows.

Declare a workflow as a YAML step graph, validate it, draw it, and run it from a notebook
or a terminal; pause it between steps, send it events, and trust that a crash loses
nothing::

    import wfkit
    engine = wfkit.open("definitions")          # state in .wfkit/wfkit.db (SQLite)
    engine.definition("sales-pipeline")         # in a notebook: the step graph as SVG
    run = engine.run("sales-pipeline", region="eu")
    run.status, run.output

``StepExecutor`` implements Dapr's workflow component interface (``init``, ``start``,
``get``, ``terminate``, ``raise_event``, ``purge``, ``pause``, ``resume``) over the same engine.
"""

from wfkit import views as _views  # registers notebook renderers
from wfkit.definition import (
    Definition,
    Duration,
    Expression,
    InputSpec,
    OnError,
    RetryPolicy,
    Step,
    StepKind,
    Template,
    WaitSpec,
    load_schema,
    schema_text,
)
from wfkit.engine.contract import (
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
from wfkit.engine.status import RuntimeStatus, StepStatus
from wfkit.errors import (
    ContractError,
    DefinitionError,
    ErrNotImplemented,
    IllegalTransition,
    InstanceAlreadyExists,
    InstanceError,
    InstanceFailed,
    InstanceNotFound,
    InvalidInput,
    InvalidInstanceId,
    Problem,
    RenderError,
    StoreError,
    UnknownWorkflow,
    WfkitError,
)
from wfkit.graph import (
    Catalog,
    EdgeView,
    GraphView,
    StepView,
    build_graph,
    build_view,
    load_catalog,
    load_definition,
    parse_definition,
)
from wfkit.runtime import Instance, Runtime, StepExecutor, StepInfo
from wfkit.runtime import open_runtime as open
from wfkit.steps.output import output

__version__ = "0.1.0"

del _views

__all__ = [
    "Catalog",
    "ContractError",
    "Definition",
    "DefinitionError",
    "Duration",
    "EdgeView",
    "ErrNotImplemented",
    "Expression",
    "GetRequest",
    "GraphView",
    "IllegalTransition",
    "InputSpec",
    "Instance",
    "InstanceAlreadyExists",
    "InstanceError",
    "InstanceFailed",
    "InstanceNotFound",
    "InvalidInput",
    "InvalidInstanceId",
    "Metadata",
    "OnError",
    "PauseRequest",
    "Problem",
    "PurgeRequest",
    "RaiseEventRequest",
    "RenderError",
    "ResumeRequest",
    "RetryPolicy",
    "Runtime",
    "RuntimeStatus",
    "StartRequest",
    "StartResponse",
    "StateResponse",
    "Step",
    "StepExecutor",
    "StepInfo",
    "StepKind",
    "StepStatus",
    "StepView",
    "StoreError",
    "Template",
    "TerminateRequest",
    "UnknownWorkflow",
    "WaitSpec",
    "WfkitError",
    "Workflow",
    "WorkflowState",
    "build_graph",
    "build_view",
    "load_catalog",
    "load_definition",
    "load_schema",
    "open",
    "output",
    "parse_definition",
    "schema_text",
]
