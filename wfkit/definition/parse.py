"""From text to a :class:`~wfkit.definition.model.Definition`, with every problem at once.

The order is: decode and read YAML (stop at the first syntax error: nothing after it can
be trusted), validate the shape against the JSON Schema, then build the model from the
parts that have the right shape and check what a schema cannot: expressions, references,
kind-specific rules. Problems from all stages are gathered; the caller raises them
together (graph checks such as cycles are added by :mod:`wfkit.graph`).

This module holds the entry points and the builder of the whole document; each step is
built by :mod:`~wfkit.definition.step_builder`, shared values (durations, retry policies,
templates, expressions) by :mod:`~wfkit.definition.values`, problems are placed by
:mod:`~wfkit.definition.reporter` and references checked by
:mod:`~wfkit.definition.references`.
"""

from __future__ import annotations

import gc
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from wfkit.definition.document import Path
from wfkit.definition.expressions import KEYWORDS
from wfkit.definition.locations import strip_bom
from wfkit.definition.model import (
    RUNNER_NAMES,
    Definition,
    Duration,
    InputSpec,
    RetryPolicy,
    Step,
)
from wfkit.definition.references import ReferenceContext
from wfkit.definition.reporter import first_line
from wfkit.definition.scalars import YAML_WORDS
from wfkit.definition.schema import dotted, schema_check
from wfkit.definition.source import SourceError, decode, read_yaml
from wfkit.definition.step_builder import StepBuilder
from wfkit.definition.values import ValueBuilder, is_number, text_or_empty
from wfkit.errors import Problem

__all__ = ["ParseResult", "parse_bytes", "parse_text", "paused_gc"]


@dataclass
class ParseResult:
    """What parsing gave: a definition (possibly missing broken parts) and the problems."""

    definition: Definition | None
    problems: list[Problem] = field(default_factory=list)


def parse_bytes(raw: bytes, path: str = "<string>") -> ParseResult:
    """Parse a definition from the bytes of a file."""
    try:
        text = decode(raw)
    except SourceError as exc:
        return ParseResult(None, [Problem(path, exc.line, exc.column, exc.message, exc.hint)])
    return parse_text(text, path)


class _GcPause:
    """The process-wide pause of the collector, shared by loads running in threads: the
    first to enter disables it, the last to leave enables it again (when it was on)."""

    lock = threading.Lock()
    depth = 0
    was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for a block that allocates much and frees little.

    Loading builds hundreds of thousands of small objects that all stay alive; without
    the pause, the collector scans them again and again while they are being made (a
    third of the time of a 10,000-step file). Safe with loads in several threads.
    """
    with _GcPause.lock:
        if _GcPause.depth == 0:
            _GcPause.was_enabled = gc.isenabled()
            gc.disable()
        _GcPause.depth += 1
    try:
        yield
    finally:
        with _GcPause.lock:
            _GcPause.depth -= 1
            if _GcPause.depth == 0 and _GcPause.was_enabled:
                gc.enable()


def parse_text(text: str, path: str = "<string>") -> ParseResult:
    """Parse a definition from text; ``path`` names it in problems."""
    with paused_gc():
        return _parse_text(text, path)


def _parse_text(text: str, path: str) -> ParseResult:
    body = strip_bom(text)  # positions count from after a byte order mark
    try:
        document = read_yaml(body)
    except SourceError as exc:
        return ParseResult(None, [Problem(path, exc.line, exc.column, exc.message, exc.hint)])
    data = document.data
    if not isinstance(data, dict):
        line, column = document.positions.of(())
        return ParseResult(
            None,
            [
                Problem(
                    path,
                    line,
                    column,
                    f"a definition must be a mapping of keys, but this file holds {_kind(data)}",
                    "start with 'wfkit: 1', 'name: ...' and 'steps:'",
                )
            ],
        )
    nonfinite = document.nonfinite
    problems, rejected = schema_check(data, document.positions, path, nonfinite)
    builder = _DefinitionBuilder(
        body, path, document.positions, problems, rejected | set(nonfinite)
    )
    for where, written in nonfinite.items():
        builder.problem(
            where,
            f"{dotted(where)}: {_cut(written)} is not a finite number",
            "JSON has no infinity or NaN: write a finite number, or quote the value to keep "
            "it as text",
        )
    definition = builder.definition(data, text)
    return ParseResult(definition, problems)


def _kind(data: Any) -> str:
    """A top-level value in YAML's words."""
    if data is None:
        return "an empty document"
    if isinstance(data, list):
        return "a list"
    if isinstance(data, bool):
        return f"the value {str(data).lower()}"
    if isinstance(data, int | float):
        return f"the number {data!r}"
    return f"the text {_cut(repr(data))}"


def _cut(text: str, limit: int = 40) -> str:
    """``text`` shortened for a one-line message."""
    return text if len(text) <= limit else f"{text[: limit - 10]}...{text[-6:]}"


class _DefinitionBuilder(ValueBuilder):
    """Builds the definition from schema-checked data, adding semantic problems."""

    def definition(self, data: dict[str, Any], source: str) -> Definition:
        """The model of ``data``; ``source`` is the text as given (with any byte order
        mark), which the definition keeps and is pinned to by its hash."""
        self.data = data
        name = data.get("name")
        if not isinstance(name, str):
            name = "<unnamed>"
        defaults = _mapping_or_empty(data.get("defaults"))
        default_retry = self.retry(defaults.get("retry"), ("defaults", "retry"), None)
        default_timeout = self.duration(defaults.get("timeout"), ("defaults", "timeout"))
        inputs = self.inputs(data.get("inputs"))
        raw_steps = _mapping_or_empty(data.get("steps"))
        raw_finally = _mapping_or_empty(data.get("finally"))
        self._check_overlap(raw_steps, raw_finally)
        context = ReferenceContext(set(raw_steps), set(raw_finally), set(inputs))
        runner = data.get("runner") if data.get("runner") in RUNNER_NAMES else None
        steps = self.steps(raw_steps, "steps", context, default_retry, default_timeout, runner)
        finals = self.steps(raw_finally, "finally", context, default_retry, default_timeout, runner)
        output = self.template(data.get("output"), ("output",), None, context, allow_item=False)
        version = data.get("version")
        concurrency = data.get("concurrency")
        return Definition(
            name=name,
            steps=steps,
            path=self.path,
            source=source,
            content_hash=hashlib.sha256(source.encode("utf-8")).hexdigest(),
            version=None if version is None else str(version),
            description=text_or_empty(data.get("description")),
            inputs=inputs,
            default_retry=default_retry,
            default_timeout=default_timeout,
            concurrency=concurrency if isinstance(concurrency, int) else None,
            finally_steps=finals,
            output=output,
            name_at=self.positions.of(("name",)),
            runner=runner,
        )

    def _check_overlap(self, steps: dict[str, Any], finals: dict[str, Any]) -> None:
        for step_id in finals:
            if step_id in steps:
                self.problem(
                    ("finally", step_id),
                    f"step id {step_id!r} is used both in steps and in finally",
                    "step ids are shared by steps and finally; rename one",
                    at_key=True,
                    step=step_id,
                )

    def inputs(self, raw: Any) -> dict[str, InputSpec]:
        """The declared inputs, each with its JSON Schema checked."""
        if not isinstance(raw, dict):
            return {}
        out = {}
        for name, schema in raw.items():
            if not isinstance(schema, dict):
                continue
            where: Path = ("inputs", name)
            if not any(p[:2] == where for p in self.rejected):
                self._check_input_schema(schema, where)
            out[name] = InputSpec(name, schema, self.positions.of_key(where)[0])
        return out

    def _check_input_schema(self, schema: dict[str, Any], where: Path) -> None:
        low, high = schema.get("minimum"), schema.get("maximum")
        if is_number(low) and is_number(high) and low > high:
            self.problem((*where, "minimum"), f"minimum {low} is greater than maximum {high}")
        if "items" in schema and schema.get("type") not in (None, "array"):
            self.problem(
                (*where, "items"),
                "items applies only to inputs of type array",
                "write type: array, or remove items",
                at_key=True,
            )
        try:
            validator = jsonschema_rs.validator_for(schema)
        except Exception as exc:  # the schema itself is malformed
            self.problem(where, f"input {where[-1]!r} has an invalid schema: {first_line(exc)}")
            return
        if "enum" in schema and isinstance(schema["enum"], list):
            for i, option in enumerate(schema["enum"]):
                rest = {k: v for k, v in schema.items() if k not in ("enum", "default")}
                if not jsonschema_rs.is_valid(rest, option):
                    self.problem(
                        (*where, "enum", i),
                        f"enum value {option!r} does not match the input's own type",
                    )
        if "default" in schema:
            for error in validator.iter_errors(schema["default"]):
                self.problem(
                    (*where, "default"),
                    f"the default of input {where[-1]!r} is not valid: {first_line(error)}",
                    "change the default or the input's type, enum or bounds",
                )
                break

    def steps(
        self,
        raw: dict[str, Any],
        section: str,
        context: ReferenceContext,
        default_retry: RetryPolicy | None,
        default_timeout: Duration | None,
        default_runner: str | None = None,
    ) -> dict[str, Step]:
        """The steps of ``section`` that are well formed, by id."""
        out = {}
        for step_id, body in raw.items():
            if not isinstance(body, dict) or not context.valid_id(step_id):
                continue
            if step_id in KEYWORDS:
                self.problem(
                    (section, step_id),
                    f"step id {step_id!r} is a keyword of the expression language, so "
                    f"steps.{step_id} could never be read",
                    f"rename the step, for example to '{step_id}_step'",
                    at_key=True,
                    step=step_id,
                )
            elif step_id.lower() in YAML_WORDS:
                self.problem(
                    (section, step_id),
                    f"step id {step_id!r} reads as {YAML_WORDS[step_id.lower()]} in YAML where "
                    f"it is not quoted (needs: [{step_id}] would not name this step)",
                    f"rename the step, for example to '{step_id}_step'",
                    at_key=True,
                    step=step_id,
                )
            step = StepBuilder(self, section, step_id, body, context).build(
                default_retry, default_timeout, default_runner
            )
            if step is not None:
                out[step_id] = step
        return out


def _mapping_or_empty(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
