"""The definition language: YAML text to a validated, frozen model (no graphs, no I/O
beyond reading text)."""

from wfkit.definition.durations import format_seconds, parse_duration
from wfkit.definition.expressions import Expression
from wfkit.definition.model import (
    Definition,
    Duration,
    InputSpec,
    OnError,
    RetryPolicy,
    Step,
    StepKind,
    WaitSpec,
)
from wfkit.definition.schema import load_schema, schema_text
from wfkit.definition.templates import Template

__all__ = [
    "Definition",
    "Duration",
    "Expression",
    "InputSpec",
    "OnError",
    "RetryPolicy",
    "Step",
    "StepKind",
    "Template",
    "WaitSpec",
    "format_seconds",
    "load_schema",
    "parse_duration",
    "schema_text",
]
