"""One step of a definition, from its schema-checked mapping to a :class:`Step`.

:class:`StepBuilder` reads the step's kind and target (a handler per kind), its ``with``,
``env``, ``foreach`` and ``when`` expressions, its ``needs``, retry, timeout and outputs,
and reports every rule the schema cannot state: expressions where none may be, keys that
do not apply to the kind, steps a step may not need. A step with a problem is left out
of the definition, the problem kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jsonschema_rs

from wfkit.definition.document import Path
from wfkit.definition.expressions import Expression, compile_expression
from wfkit.definition.model import (
    RUNNER_NAMES,
    Duration,
    OnError,
    RetryPolicy,
    Step,
    StepKind,
    WaitSpec,
)
from wfkit.definition.references import ReferenceContext
from wfkit.definition.reporter import first_line
from wfkit.definition.schema import STEP_KINDS
from wfkit.definition.templates import Template, contains_expression
from wfkit.definition.values import ValueBuilder, int_or_none, is_number, text_or_empty

__all__ = ["StepBuilder"]

#: Step kinds that take no timeout (nor ``defaults.timeout``): a wait has its own inside
#: ``wait:``, a sleep lasts exactly its duration.
_UNTIMED = (StepKind.WAIT, StepKind.SLEEP)

#: Step kinds that always run in the engine, whatever the runner.
_IN_ENGINE = (StepKind.WORKFLOW, StepKind.WAIT, StepKind.SLEEP)
_STAYS_HOME = (
    "workflow, wait and sleep steps always run in the engine; runner and resources "
    "apply to call, shell and notebook steps"
)
_DATA_ONLY_IN = "shell steps take data through env; wait and sleep steps take no input"
_ENV_ONLY_IN = "env sets environment variables of shell and notebook steps; use with instead"
#: Keys that do not apply to some kinds: for each key, the hint for each such kind.
_NOT_FOR_KIND: dict[str, dict[StepKind, str]] = {
    "with": dict.fromkeys((StepKind.SHELL, StepKind.WAIT, StepKind.SLEEP), _DATA_ONLY_IN),
    "env": dict.fromkeys(
        (StepKind.CALL, StepKind.WORKFLOW, StepKind.WAIT, StepKind.SLEEP), _ENV_ONLY_IN
    ),
    "timeout": {
        StepKind.WAIT: "a wait takes its timeout inside wait: {event: NAME, timeout: 1h}",
        StepKind.SLEEP: "a sleep step always lasts its sleep duration; remove timeout",
    },
    "runner": dict.fromkeys(_IN_ENGINE, _STAYS_HOME),
    "resources": dict.fromkeys(_IN_ENGINE, _STAYS_HOME),
}


class StepBuilder:
    """Builds one :class:`Step`, reporting what is wrong with it."""

    def __init__(
        self,
        owner: ValueBuilder,
        section: str,
        step_id: str,
        body: dict[str, Any],
        context: ReferenceContext,
    ) -> None:
        self.owner = owner
        self.section = section
        self.id = step_id
        self.body = body
        self.context = context
        self.where: Path = (section, step_id)
        self.ok = True

    def problem(self, key: str, message: str, hint: str = "", *, at_key: bool = False) -> None:
        """Report a problem at the step's ``key``; the step is then left out."""
        self.ok = False
        self.owner.problem((*self.where, key), message, hint, at_key=at_key, step=self.id)

    def build(
        self,
        default_retry: RetryPolicy | None,
        default_timeout: Duration | None,
        default_runner: str | None = None,
    ) -> Step | None:
        """The step, or None when something is wrong with it (and reported)."""
        kinds = [k for k in STEP_KINDS if k in self.body]
        if len(kinds) != 1:
            return None  # reported by the schema
        kind = StepKind(kinds[0])
        target = self.target(kind)
        self.check_kind_keys(kind)
        with_, env = self.data()
        foreach = self.foreach()
        when = self.when()
        needs = self.needs()
        refs = frozenset(s for t in (with_, env, foreach) if t is not None for s in t.steps) | (
            when.steps if when else frozenset()
        )
        owner, where, body = self.owner, self.where, self.body
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
            max_parallel=int_or_none(body.get("max_parallel")),
            retry=owner.retry(body.get("retry"), (*where, "retry"), default_retry),
            timeout=self.timeout(kind, default_timeout),
            on_error=_on_error(body.get("on_error")),
            pause_before=body.get("pause_before") is True,
            outputs=self.outputs(),
            description=text_or_empty(body.get("description")),
            is_finally=self.section == "finally",
            line=line,
            column=column,
            target_at=owner.positions.of((*where, kind.value)),
            **self.placement(kind, default_runner),
        )
        return step if self.ok else None

    def data(self) -> tuple[Template | None, Template | None]:
        """The step's ``with`` and ``env`` (which may read item and index under foreach)."""
        has_foreach = "foreach" in self.body
        owner, ctx, where, body = self.owner, self.context, self.where, self.body
        with_ = owner.template(
            body.get("with"), (*where, "with"), self.id, ctx, allow_item=has_foreach
        )
        env = owner.template(body.get("env"), (*where, "env"), self.id, ctx, allow_item=has_foreach)
        return with_, env

    def timeout(self, kind: StepKind, default: Duration | None) -> Duration | None:
        """The step's own timeout, else ``default``; none for kinds that take none."""
        own = self.owner.duration(self.body.get("timeout"), (*self.where, "timeout"))
        if kind in _UNTIMED:
            return None  # a timeout here is refused by check_kind_keys
        return own or default

    def placement(self, kind: StepKind, default_runner: str | None) -> dict[str, Any]:
        """The step's ``runner`` (its own, else the workflow's) and ``resources``; none
        for kinds that stay in the engine (their keys are refused by check_kind_keys)."""
        if kind in _IN_ENGINE:
            return {}
        own = self.body.get("runner")
        runner = own if own in RUNNER_NAMES else default_runner
        raw = self.body.get("resources")
        resources = None
        if isinstance(raw, dict) and raw:
            resources = {str(k): float(v) for k, v in raw.items() if is_number(v)}
            if runner == "local":
                where = "this step says" if own == "local" else "its workflow says"
                self.problem(
                    "resources",
                    f"resources apply to steps that run on Dask, but {where} runner: local",
                    "remove resources, or run the step on Dask (runner: dask)",
                    at_key=True,
                )
        return {"runner": runner, "resources": resources}

    def target(self, kind: StepKind) -> Any:
        """The step's target (what ``call:``, ``shell:``... holds), read for its kind."""
        handler = _TARGETS.get(kind, StepBuilder._fixed_target)
        return handler(self, kind, self.body[kind.value])

    def _shell_target(self, kind: StepKind, raw: Any) -> tuple[str, ...]:
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

    def _wait_target(self, kind: StepKind, raw: Any) -> WaitSpec | None:
        if isinstance(raw, str):
            self._fixed_event(raw, ("wait",))
            return WaitSpec(raw.lower())
        if isinstance(raw, dict) and isinstance(raw.get("event"), str):
            self._fixed_event(raw["event"], ("wait", "event"))
            timeout = self.owner.duration(raw.get("timeout"), (*self.where, "wait", "timeout"))
            return WaitSpec(raw["event"].lower(), timeout)
        return None

    def _fixed_event(self, name: str, where: tuple[str, ...]) -> None:
        """An event name is matched as written: an expression in it is never evaluated."""
        if contains_expression(name):
            self.owner.problem(
                (*self.where, *where),
                "expressions are not allowed in an event name",
                "the name a wait step takes is fixed when the definition loads (so that "
                "raise-event can tell a name no step waits for); put the varying part in "
                "the event's data",
                step=self.id,
            )
            self.ok = False

    def _sleep_target(self, kind: StepKind, raw: Any) -> Duration | None:
        return self.owner.duration(raw, (*self.where, "sleep"))

    def _fixed_target(self, kind: StepKind, raw: Any) -> Any:
        """A call, notebook or workflow target: fixed text, no expressions."""
        if isinstance(raw, str) and contains_expression(raw):
            self.problem(
                kind.value,
                f"expressions are not allowed in {kind.value}",
                f"the {kind.value} target is fixed when the definition loads; "
                "pass data with 'with'",
            )
        return raw

    def check_kind_keys(self, kind: StepKind) -> None:
        """Report keys that do not apply to a step of ``kind``."""
        for key, hints in _NOT_FOR_KIND.items():
            hint = hints.get(kind)
            if hint is not None and key in self.body:
                self.problem(key, f"{key} does not apply to a {kind.value} step", hint, at_key=True)
        if "max_parallel" in self.body and "foreach" not in self.body:
            self.problem(
                "max_parallel",
                "max_parallel applies only to a step with foreach",
                "add foreach, or remove max_parallel (use concurrency for the whole workflow)",
                at_key=True,
            )

    def foreach(self) -> Template | None:
        """The step's ``foreach``: a list, or one expression that gives a list."""
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
        """The step's condition: one expression, or a boolean."""
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
        """The ids the step needs (one or a list), each checked against the context."""
        raw = self.body.get("needs")
        if raw is None:
            return ()
        items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        names = tuple(n for n in items if isinstance(n, str))
        for i, name in enumerate(items):
            if not isinstance(name, str):
                continue
            where_key = i if isinstance(raw, list) else None
            at = (*self.where, "needs") if where_key is None else (*self.where, "needs", i)
            if self.owner.rejected_at(at):
                self.ok = False  # the schema has reported it: not a step id at all
                continue
            message, hint = self.context.check_need(name, self.id, self.section)
            if message:
                self._needs_problem(where_key, message, hint)
        if len(set(names)) != len(names):
            self.problem("needs", "needs names a step twice", "list each step once", at_key=True)
        return names

    def _needs_problem(self, index: int | None, message: str, hint: str) -> None:
        self.ok = False
        where = (*self.where, "needs") if index is None else (*self.where, "needs", index)
        self.owner.problem(where, message, hint, step=self.id)

    def outputs(self) -> Mapping[str, Any] | None:
        """The JSON Schema of the step's output, when it declares a valid one."""
        raw = self.body.get("outputs")
        if not isinstance(raw, dict):
            return None
        try:
            jsonschema_rs.meta.validate(raw)
            jsonschema_rs.validator_for(raw)
        except Exception as exc:
            self.problem("outputs", f"outputs is not a valid JSON Schema: {first_line(exc)}")
            return None
        return raw


#: How the target of each kind is read; other kinds take a fixed target.
_TARGETS: dict[StepKind, Callable[[StepBuilder, StepKind, Any], Any]] = {
    StepKind.SHELL: StepBuilder._shell_target,
    StepKind.WAIT: StepBuilder._wait_target,
    StepKind.SLEEP: StepBuilder._sleep_target,
}


def _on_error(raw: Any) -> OnError:
    return OnError(raw) if raw in ("fail", "continue") else OnError.FAIL
