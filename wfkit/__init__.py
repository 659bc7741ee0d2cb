"""wfkit: declarative, durable, Jupyter-friendly workflows.

Declare a workflow as a YAML step graph, validate it, draw it, and (soon) run it from a
notebook or a terminal::

    import wfkit
    catalog = wfkit.load_catalog("definitions")
    definition = catalog.get("sales-pipeline")
    definition            # in a notebook: the step graph as SVG
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
from wfkit.errors import (
    DefinitionError,
    ErrNotImplemented,
    Problem,
    RenderError,
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

__version__ = "0.1.0"

del _views

__all__ = [
    "Catalog",
    "Definition",
    "DefinitionError",
    "Duration",
    "EdgeView",
    "ErrNotImplemented",
    "Expression",
    "GraphView",
    "InputSpec",
    "OnError",
    "Problem",
    "RenderError",
    "RetryPolicy",
    "Step",
    "StepKind",
    "StepView",
    "Template",
    "UnknownWorkflow",
    "WaitSpec",
    "WfkitError",
    "build_graph",
    "build_view",
    "load_catalog",
    "load_definition",
    "load_schema",
    "parse_definition",
    "schema_text",
]
