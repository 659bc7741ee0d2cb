"""From text to a :class:`~wfkit.definition.model.Definition`, with every problem at once.

The order is: decode and read YAML (stop at the first syntax error: nothing after it can
be trusted), validate the shape against the JSON Schema, then build the model from the
parts that have the right shape and check what a schema cannot: expressions, references,
kind-specific rules. Problems from all stages are gathered; the caller raises them
together (graph checks such as cycles are added by :mod:`wfkit.graph`).
"""

from __future__ import annotations

import gc
import hashlib
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import jsonschema_rs

from wfkit.definition.durations import parse_duration
from wfkit.definition.expressions import (
    KEYWORDS,
    ROOTS,
    Expression,
    ExpressionSyntaxError,
    Reference,
    Template,
    compile_expression,
    compile_template,
    contains_expression,
    expression_sites,
)
from wfkit.definition.locations import LineIndex, scalar_index, strip_bom
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
from wfkit.definition.schema import STEP_KINDS, did_you_mean, dotted, schema_check
from wfkit.definition.source import Path, Positions, SourceError, decode, read_yaml
from wfkit.errors import Problem

__all__ = ["ParseResult", "parse_bytes", "parse_text", "paused_gc"]

_RETRY_DEFAULT = RetryPolicy()
_WORKFLOW_FIELDS = ("id", "name", "status")
#: Step kinds that take no timeout (nor ``defaults.timeout``): a wait has its own inside
#: ``wait:``, a sleep lasts exactly its duration.
_UNTIMED = (StepKind.WAIT, StepKind.SLEEP)
_DURATION_HINT = "write 500ms, 30s, 10m, 2h, 1d (or combined, as 1h30m) or a number of seconds"


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
    builder = _Builder(body, path, document.positions, problems, rejected | set(nonfinite))
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


class _Builder:
    """Builds model objects from schema-checked data, adding semantic problems."""

    def __init__(
        self,
        text: str,
        path: str,
        positions: Positions,
        problems: list[Problem],
        rejected: set[Path],
    ):
        self.text = text
        self.path = path
        self.positions = positions
        self.problems = problems
        self.rejected = rejected
        self._lines: LineIndex | None = None
        self.data: dict[str, Any] = {}

    # -- reporting ---------------------------------------------------------------------

    def problem(
        self,
        where: Path,
        message: str,
        hint: str = "",
        *,
        at_key: bool = False,
        step: str | None = None,
    ) -> None:
        line, column = self.positions.of_key(where) if at_key else self.positions.of(where)
        self.problems.append(Problem(self.path, line, column, message, hint, step))

    def problem_at(self, line: int, column: int, message: str, hint: str, step: str | None) -> None:
        self.problems.append(Problem(self.path, line, column, message, hint, step))

    def rejected_at(self, where: Path) -> bool:
        """Whether the schema refused the value at ``where`` or a value holding it."""
        return bool(self.rejected) and any(
            where[:k] in self.rejected for k in range(1, len(where) + 1)
        )

    def locate(self, where: Path, offset: int) -> tuple[int, int]:
        """The file position of character ``offset`` of the text value at ``where``."""
        found = self.positions.values.get(where)
        value = _value_at(self, where)
        if found is None or not value:
            return self.positions.of(where)
        lines = self.lines()
        start = lines.offset(*found)
        index = None if start is None else scalar_index(self.text, start, value, offset)
        return found if index is None else lines.position(index)

    def lines(self) -> LineIndex:
        if self._lines is None:
            self._lines = LineIndex(self.text)
        return self._lines

    def cut_by_comment(self, where: Path) -> bool:
        """Whether the plain value at ``where`` is followed by a YAML comment on its line
        (``x: ${{ a # b }}`` is ``${{ a``: YAML took the rest as a comment)."""
        found = self.positions.values.get(where)
        value = _value_at(self, where)
        lines = self.lines()
        start = lines.offset(*found) if found and value else None
        if start is None or self.text[start : start + 1] in ("'", '"', "|", ">", "!", "&"):
            return False
        end = scalar_index(self.text, start, value, len(value))
        if end is None:
            return False
        return self.text[end : lines.line_end(end)].lstrip(" \t").startswith("#")

    # -- the whole document --------------------------------------------------------------

    def definition(self, data: dict[str, Any], source: str) -> Definition:
        """The model of ``data``; ``source`` is the text as given (with any byte order
        mark), which the definition keeps and is pinned to by its hash."""
        self.data = data
        name = data.get("name")
        if not isinstance(name, str):
            name = "<unnamed>"
        defaults = _mapping(data.get("defaults"))
        default_retry = self.retry(defaults.get("retry"), ("defaults", "retry"), None)
        default_timeout = self.duration(defaults.get("timeout"), ("defaults", "timeout"))
        inputs = self.inputs(data.get("inputs"))
        raw_steps = _mapping(data.get("steps"))
        raw_finally = _mapping(data.get("finally"))
        self._check_overlap(raw_steps, raw_finally)
        context = _Context(set(raw_steps), set(raw_finally), set(inputs))
        steps = self.steps(raw_steps, "steps", context, default_retry, default_timeout)
        finals = self.steps(raw_finally, "finally", context, default_retry, default_timeout)
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
            description=_text(data.get("description")),
            inputs=inputs,
            default_retry=default_retry,
            default_timeout=default_timeout,
            concurrency=concurrency if isinstance(concurrency, int) else None,
            finally_steps=finals,
            output=output,
            name_at=self.positions.of(("name",)),
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

    # -- inputs ------------------------------------------------------------------------

    def inputs(self, raw: Any) -> dict[str, InputSpec]:
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
        if _is_number(low) and _is_number(high) and low > high:
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
            self.problem(where, f"input {where[-1]!r} has an invalid schema: {_first_line(exc)}")
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
                    f"the default of input {where[-1]!r} is not valid: {_first_line(error)}",
                    "change the default or the input's type, enum or bounds",
                )
                break

    # -- steps -------------------------------------------------------------------------

    def steps(
        self,
        raw: dict[str, Any],
        section: str,
        context: _Context,
        default_retry: RetryPolicy | None,
        default_timeout: Duration | None,
    ) -> dict[str, Step]:
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
            step = _StepBuilder(self, section, step_id, body, context).build(
                default_retry, default_timeout
            )
            if step is not None:
                out[step_id] = step
        return out

    # -- values ------------------------------------------------------------------------

    def duration(self, raw: Any, where: Path) -> Duration | None:
        if raw is None or isinstance(raw, bool) or not isinstance(raw, str | int | float):
            return None
        try:
            return parse_duration(raw)
        except ValueError as exc:
            if not self.rejected_at(where):  # else the schema has reported it
                self.problem(where, f"{dotted(where)}: {exc}", _DURATION_HINT)
            return None

    def retry(self, raw: Any, where: Path, base: RetryPolicy | None) -> RetryPolicy | None:
        if not isinstance(raw, dict):
            return base
        start = base or _RETRY_DEFAULT
        fields: dict[str, Any] = {}
        for key in ("initial_interval", "max_interval", "retry_timeout"):
            if key in raw:
                value = self.duration(raw[key], (*where, key))
                if value is not None:
                    fields[key] = value
        attempts = raw.get("max_attempts")
        if isinstance(attempts, int) and not isinstance(attempts, bool) and attempts >= 1:
            fields["max_attempts"] = attempts
        coefficient = raw.get("backoff_coefficient")
        if _is_number(coefficient) and coefficient >= 1:
            fields["backoff_coefficient"] = float(coefficient)
        policy = RetryPolicy(
            max_attempts=fields.get("max_attempts", start.max_attempts),
            initial_interval=fields.get("initial_interval", start.initial_interval),
            backoff_coefficient=fields.get("backoff_coefficient", start.backoff_coefficient),
            max_interval=fields.get("max_interval", start.max_interval),
            retry_timeout=fields.get("retry_timeout", start.retry_timeout),
        )
        if policy.max_interval and policy.max_interval.seconds < policy.initial_interval.seconds:
            self.problem(
                (*where, "max_interval"),
                f"max_interval ({policy.max_interval}) is shorter than initial_interval "
                f"({policy.initial_interval})",
                "max_interval caps the delay between attempts; make it at least initial_interval",
            )
        return policy

    def template(
        self,
        raw: Any,
        where: Path,
        step: str | None,
        context: _Context,
        *,
        allow_item: bool,
    ) -> Template | None:
        if raw is None:
            return None
        template, errors = compile_template(raw)
        for error in errors:
            self._expression_problem((*where, *error.path), error, error.string_offset, step)
        ok = not errors
        if not context.reads_well(template.expressions(), step, allow_item=allow_item):
            ok = False
            for inner, base, expression in expression_sites(template):
                self.check_references(
                    expression, (*where, *inner), base, step, context, allow_item=allow_item
                )
        return template if ok else None

    def expression(
        self, raw: str, where: Path, step: str | None, context: _Context, *, allow_item: bool
    ) -> Expression | None:
        stripped = raw.strip()
        if not (stripped.startswith("${{") and stripped.endswith("}}")):
            hint = (
                _COMMENT_HINT
                if "${{" in raw and self.cut_by_comment(where)
                else "write it as ${{ ... }}, for example ${{ inputs.region == 'eu' }}"
            )
            self.problem(where, f"{dotted(where)} must be one expression", hint, step=step)
            return None
        body_start = raw.index("${{") + 3
        source = stripped[3:-2]
        try:
            expression = compile_expression(source)
        except ExpressionSyntaxError as exc:
            self._expression_problem(where, exc, body_start + exc.offset, step)
            return None
        if not self.check_references(
            expression, where, body_start, step, context, allow_item=allow_item
        ):
            return None
        return expression

    def _expression_problem(
        self, where: Path, error: ExpressionSyntaxError, offset: int, step: str | None
    ) -> None:
        line, column = self.locate(where, offset)
        hint = error.hint
        if error.message == "expression is not closed" and self.cut_by_comment(where):
            hint = _COMMENT_HINT
        self.problem_at(line, column, error.message, hint, step)

    def check_references(
        self,
        expression: Expression,
        where: Path,
        base: int,
        step: str | None,
        context: _Context,
        *,
        allow_item: bool,
    ) -> bool:
        """Report each bad reference of ``expression``, whose source starts at offset
        ``base`` of the text value at ``where``; whether all were good."""
        ok = True
        for ref in expression.references:
            message, hint = context.check(ref, step, allow_item=allow_item)
            if message:
                line, column = self.locate(where, base + ref.offset)
                self.problem_at(line, column, message, hint, step)
                ok = False
        return ok


@dataclass
class _Context:
    """The names expressions of one definition may read."""

    main: set[str]
    finals: set[str]
    inputs: set[str]
    known: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.known = self.main | self.finals

    @staticmethod
    def valid_id(step_id: Any) -> bool:
        return isinstance(step_id, str) and step_id.isidentifier()

    def reads_well(
        self, expressions: Iterable[Expression], step: str | None, *, allow_item: bool
    ) -> bool:
        """Whether every reference of ``expressions`` is fine (the fast check, before any
        problem is placed)."""
        check = self.check
        for expression in expressions:
            for ref in expression.references:
                if check(ref, step, allow_item=allow_item)[0]:
                    return False
        return True

    def check(self, ref: Reference, step: str | None, *, allow_item: bool) -> tuple[str, str]:
        """A problem message and hint for one reference, or empty strings when it is fine."""
        root, target = ref.root, ref.step
        if root not in ROOTS:
            hint = did_you_mean(root, ROOTS) or f"expressions can read {', '.join(ROOTS)}"
            return f"unknown name {root!r} in expression", hint
        if root in ("item", "index") and not allow_item:
            return (
                f"{root!r} is only defined inside a step with foreach",
                "use item and index in the with or env of a foreach step",
            )
        if root == "inputs" and ref.member is not None and ref.member not in self.inputs:
            hint = did_you_mean(ref.member, self.inputs) or (
                f"declared inputs: {', '.join(sorted(self.inputs))}"
                if self.inputs
                else "declare it under inputs:"
            )
            return f"unknown input {ref.member!r}", hint
        if root == "workflow" and ref.member is not None and ref.member not in _WORKFLOW_FIELDS:
            return (
                f"workflow has no field {ref.member!r}",
                f"workflow fields: {', '.join(_WORKFLOW_FIELDS)}",
            )
        if target is None:
            return "", ""
        if target not in self.known:
            hint = steps_hint(target, self.known - {step} if step else self.known)
            return f"unknown step {target!r} in expression", hint
        if target == step:
            return (
                f"step {step!r} reads its own result",
                "a step cannot depend on itself; read an earlier step instead",
            )
        if step in self.main and target in self.finals:
            return (
                f"step {step!r} reads finally step {target!r}, which runs after every step",
                "only finally steps and the workflow output can read finally steps",
            )
        return "", ""


class _StepBuilder:
    """Builds one :class:`Step`, reporting what is wrong with it."""

    def __init__(
        self, owner: _Builder, section: str, step_id: str, body: dict[str, Any], context: _Context
    ) -> None:
        self.owner = owner
        self.section = section
        self.id = step_id
        self.body = body
        self.context = context
        self.where: Path = (section, step_id)
        self.ok = True

    def problem(self, key: str, message: str, hint: str = "", *, at_key: bool = False) -> None:
        self.ok = False
        self.owner.problem((*self.where, key), message, hint, at_key=at_key, step=self.id)

    def build(
        self, default_retry: RetryPolicy | None, default_timeout: Duration | None
    ) -> Step | None:
        kinds = [k for k in STEP_KINDS if k in self.body]
        if len(kinds) != 1:
            return None  # reported by the schema
        kind = StepKind(kinds[0])
        target = self.target(kind)
        self.check_kind_keys(kind)
        has_foreach = "foreach" in self.body
        owner, ctx, where, body = self.owner, self.context, self.where, self.body
        with_ = owner.template(
            body.get("with"), (*where, "with"), self.id, ctx, allow_item=has_foreach
        )
        env = owner.template(body.get("env"), (*where, "env"), self.id, ctx, allow_item=has_foreach)
        foreach = self.foreach()
        when = self.when()
        needs = self.needs()
        refs = frozenset(s for t in (with_, env, foreach) if t is not None for s in t.steps) | (
            when.steps if when else frozenset()
        )
        line, column = owner.positions.of_key(where)
        step = Step(
            id=self.id,
            kind=kind,
            target=target,
            needs=needs,
            refs=refs,
            with_=with_,
            env=env,
            when=when,
            foreach=foreach,
            max_parallel=_int_or_none(body.get("max_parallel")),
            retry=owner.retry(body.get("retry"), (*where, "retry"), default_retry),
            timeout=self.timeout(kind, default_timeout),
            on_error=OnError(body["on_error"])
            if body.get("on_error") in ("fail", "continue")
            else OnError.FAIL,
            pause_before=body.get("pause_before") is True,
            outputs=self.outputs(),
            description=_text(body.get("description")),
            is_finally=self.section == "finally",
            line=line,
            column=column,
            target_at=owner.positions.of((*where, kind.value)),
        )
        return step if self.ok else None

    def timeout(self, kind: StepKind, default: Duration | None) -> Duration | None:
        own = self.owner.duration(self.body.get("timeout"), (*self.where, "timeout"))
        if kind in _UNTIMED:
            return None  # a timeout here is refused by check_kind_keys
        return own or default

    def target(self, kind: StepKind) -> Any:
        raw = self.body[kind.value]
        if kind is StepKind.SHELL:
            if not isinstance(raw, list):
                return ()
            for i, arg in enumerate(raw):
                if isinstance(arg, str) and contains_expression(arg):
                    self.owner.problem(
                        (*self.where, "shell", i),
                        "expressions are not allowed inside a shell argv",
                        "pass the value through env (env: {NAME: '${{ ... }}'}) and read "
                        "$NAME in the program; argv text is never spliced",
                        step=self.id,
                    )
                    self.ok = False
            return tuple(str(a) for a in raw)
        if kind is StepKind.WAIT:
            return self.wait(raw)
        if kind is StepKind.SLEEP:
            return self.owner.duration(raw, (*self.where, "sleep"))
        if isinstance(raw, str) and contains_expression(raw):
            self.problem(
                kind.value,
                f"expressions are not allowed in {kind.value}",
                f"the {kind.value} target is fixed when the definition loads; "
                "pass data with 'with'",
            )
        return raw

    def wait(self, raw: Any) -> WaitSpec | None:
        if isinstance(raw, str):
            return WaitSpec(raw.lower())
        if isinstance(raw, dict) and isinstance(raw.get("event"), str):
            timeout = self.owner.duration(raw.get("timeout"), (*self.where, "wait", "timeout"))
            return WaitSpec(raw["event"].lower(), timeout)
        return None

    def check_kind_keys(self, kind: StepKind) -> None:
        rules = {
            "with": (
                {StepKind.SHELL, StepKind.WAIT, StepKind.SLEEP},
                "shell steps take data through env; wait and sleep steps take no input",
            ),
            "env": (
                {StepKind.CALL, StepKind.WORKFLOW, StepKind.WAIT, StepKind.SLEEP},
                "env sets environment variables of shell and notebook steps; use with instead",
            ),
            "timeout": (
                {StepKind.WAIT, StepKind.SLEEP},
                "a wait takes its timeout inside wait: {event: NAME, timeout: 1h}"
                if kind is StepKind.WAIT
                else "a sleep step always lasts its sleep duration; remove timeout",
            ),
        }
        for key, (kinds, hint) in rules.items():
            if key in self.body and kind in kinds:
                self.problem(key, f"{key} does not apply to a {kind.value} step", hint, at_key=True)
        if "max_parallel" in self.body and "foreach" not in self.body:
            self.problem(
                "max_parallel",
                "max_parallel applies only to a step with foreach",
                "add foreach, or remove max_parallel (use concurrency for the whole workflow)",
                at_key=True,
            )

    def foreach(self) -> Template | None:
        raw = self.body.get("foreach")
        if raw is None:
            return None
        where = (*self.where, "foreach")
        if isinstance(raw, str):
            stripped = raw.strip()
            if not (stripped.startswith("${{") and stripped.endswith("}}")):
                self.problem(
                    "foreach",
                    "foreach takes a list or one expression that gives a list",
                    "for example foreach: ${{ inputs.months }} or foreach: [a, b, c]",
                )
                return None
        template = self.owner.template(raw, where, self.id, self.context, allow_item=False)
        if template is None:
            self.ok = False
        return template

    def when(self) -> Expression | None:
        raw = self.body.get("when")
        if raw is None or isinstance(raw, bool):
            if isinstance(raw, bool):
                return compile_expression("true" if raw else "false")
            return None
        if not isinstance(raw, str):
            return None
        expression = self.owner.expression(
            raw, (*self.where, "when"), self.id, self.context, allow_item=False
        )
        if expression is None:
            self.ok = False
        return expression

    def needs(self) -> tuple[str, ...]:
        raw = self.body.get("needs")
        if raw is None:
            return ()
        items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        names = tuple(n for n in items if isinstance(n, str))
        known = self.context.known
        for i, name in enumerate(items):
            if not isinstance(name, str):
                continue
            where_key = i if isinstance(raw, list) else None
            at = (*self.where, "needs") if where_key is None else (*self.where, "needs", i)
            if self.owner.rejected_at(at):
                self.ok = False  # the schema has reported it: not a step id at all
                continue
            if name == self.id:
                self._needs_problem(
                    where_key, f"step {self.id!r} needs itself", "remove it from needs"
                )
            elif name not in known:
                self._needs_problem(
                    where_key,
                    f"unknown step {name!r} in needs",
                    steps_hint(name, known - {self.id}),
                )
            elif self.section == "steps" and name in self.context.finals:
                self._needs_problem(
                    where_key,
                    f"step {self.id!r} needs finally step {name!r}, which runs after every step",
                    "only finally steps can need finally steps",
                )
            elif self.section == "finally" and name in self.context.main:
                self._needs_problem(
                    where_key,
                    f"finally step {self.id!r} needs main step {name!r}",
                    "finally steps run after every main step already; needs may name only "
                    "other finally steps",
                )
        if len(set(names)) != len(names):
            self.problem("needs", "needs names a step twice", "list each step once", at_key=True)
        return names

    def _needs_problem(self, index: int | None, message: str, hint: str) -> None:
        self.ok = False
        where = (*self.where, "needs") if index is None else (*self.where, "needs", index)
        self.owner.problem(where, message, hint, step=self.id)

    def outputs(self) -> Mapping[str, Any] | None:
        raw = self.body.get("outputs")
        if not isinstance(raw, dict):
            return None
        try:
            jsonschema_rs.meta.validate(raw)
            jsonschema_rs.validator_for(raw)
        except Exception as exc:
            self.problem("outputs", f"outputs is not a valid JSON Schema: {_first_line(exc)}")
            return None
        return raw


def _value_at(builder: _Builder, where: Path) -> str:
    """The text of the scalar at ``where`` in the document, or "" (for positions)."""
    node: Any = builder.data
    for part in where:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_dict or in_list:
            node = node[part]
        else:
            return ""
    return node if isinstance(node, str) else ""


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_COMMENT_HINT = (
    "' #' starts a YAML comment, which cut the value short; put the whole value in quotes"
)


def steps_hint(name: str, known: Collection[str]) -> str:
    """Did-you-mean for a step id, or the known ids when none is close."""
    close = did_you_mean(name, known)
    if close or not known:
        return close
    ids = sorted(known)
    shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10:,} more" if len(ids) > 10 else "")
    return f"known steps: {shown}"


def _first_line(error: Any) -> str:
    """A library's message cut to its first line (they can dump whole schemas)."""
    text = str(getattr(error, "message", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
