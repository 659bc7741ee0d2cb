"""Test helpers for the example definitions.

:class:`Harness` runs a definition through the real engine (:class:`wfkit.runtime.api.Runtime`
on a SQLite file, a thread pool, real subprocesses, real timers) and sums the instance up
as a :class:`Run`. The other helpers check pieces of the examples on their own: the YAML
(:func:`load`, :func:`expressions_in`, :func:`step_refs`, :func:`parse_duration`) and the
step code (:func:`run_shell`, :func:`exec_notebook`, with :func:`env_strings` and
:func:`apply_inputs` to build what a step is given).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cel
import jsonschema
import yaml

from wfkit.engine.core.history import (
    ExecutionSuspended,
    HistoryEvent,
    StepFailed,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceCreated,
    SubOrchestrationInstanceFailed,
    TaskFailed,
    TimerCreated,
)
from wfkit.engine.core.status import RuntimeStatus
from wfkit.engine.protocols import InstanceRow
from wfkit.engine.wire.summary import stored_properties
from wfkit.runtime.api import Instance, Runtime
from wfkit.runtime.settings import Settings

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"
KINDS = ("call", "shell", "notebook", "workflow", "wait", "sleep")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
STEP_REF = re.compile(r"\bsteps\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*(output|status)\b")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def load(name: str) -> dict[str, Any]:
    """The parsed YAML of the definition ``name`` (file ``definitions/<name>.yaml``)."""
    with (DEFINITIONS / f"{name}.yaml").open(encoding="utf-8") as handle:
        doc: dict[str, Any] = yaml.safe_load(handle)
    return doc


def parse_duration(value: Any) -> float:
    """Seconds of a DESIGN §5 duration: ``500ms``, ``30s``, ``10m``, ``2h``, ``1d`` or a number."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r}")
    return float(match[1]) * _UNITS[match[2]]


def expressions_in(value: Any) -> Iterator[str]:
    """The CEL source of every ``${{ ... }}`` inside a YAML value."""
    if isinstance(value, str):
        for match in EXPRESSION.finditer(value):
            yield match[1].strip()
    elif isinstance(value, list):
        for item in value:
            yield from expressions_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from expressions_in(item)


def step_refs(step: Mapping[str, Any]) -> set[str]:
    """Ids of the steps a step's expressions read."""
    return {m[1] for src in expressions_in(dict(step)) for m in STEP_REF.finditer(src)}


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """``value`` with every expression evaluated (DESIGN §5 templating rules)."""
    if isinstance(value, str):
        matches = list(EXPRESSION.finditer(value))
        if len(matches) == 1 and matches[0].span() == (0, len(value)):
            return cel.evaluate(matches[0][1].strip(), dict(context))

        def text(match: re.Match[str]) -> str:
            result = cel.evaluate(match[1].strip(), dict(context))
            return result if isinstance(result, str) else json.dumps(result)

        return EXPRESSION.sub(text, value)
    if isinstance(value, list):
        return [render(v, context) for v in value]
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    return value


def env_strings(env: Mapping[str, Any] | None, context: Mapping[str, Any]) -> dict[str, str]:
    """A step's ``env`` rendered: strings as they are, anything else JSON-encoded."""
    rendered = render(dict(env or {}), context)
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in rendered.items()}


def python_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The process environment plus ``extra``, with the definitions folder importable."""
    env = dict(os.environ)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(DEFINITIONS) + (os.pathsep + path if path else "")
    env.update(extra)
    return env


def run_shell(
    argv: list[str], env: Mapping[str, str], output: Path, cwd: Path, timeout: float = 60
) -> tuple[subprocess.CompletedProcess[str], Any]:
    """Run a shell step's argv (``python`` is this interpreter); return it and its JSON."""
    if any("${{" in arg for arg in argv):
        raise AssertionError(f"expression inside argv: {argv}")
    if output.exists():
        output.unlink()
    command = [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
    proc = subprocess.run(
        command,
        env=python_env({**env, "WFKIT_OUTPUT": str(output)}),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    text = output.read_text(encoding="utf-8") if output.exists() else ""
    return proc, json.loads(text) if text.strip() else None


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def code_cells(path: Path) -> list[dict[str, Any]]:
    """The code cells of a notebook file, each with ``source`` joined into one string."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            source = cell["source"]
            text = "".join(source) if isinstance(source, list) else source
            cells.append({**cell, "source": text})
    return cells


def exec_notebook(
    path: Path, parameters: Mapping[str, Any], env: Mapping[str, str]
) -> dict[str, Any]:
    """Run a notebook's code in-process, injecting ``parameters`` after its parameters cell.

    Returns the namespace the cells ran in.
    """
    namespace: dict[str, Any] = {"__name__": "__notebook__"}
    with patched_environ(env):
        for cell in code_cells(path):
            exec(compile(cell["source"], f"{path.name}#{cell.get('id')}", "exec"), namespace)
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                namespace.update(parameters)
    return namespace


@dataclass
class Run:
    """What running a definition through the engine gave: a summary of the instance."""

    name: str
    instance_id: str
    status: str = "RUNNING"
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    output: Any = None
    log: list[str] = field(default_factory=list)

    def out(self, step: str) -> Any:
        """The output of one step."""
        return self.steps[step]["output"]

    def state(self, step: str) -> str:
        """The status of one step."""
        return str(self.steps[step]["status"])


def apply_inputs(doc: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs with defaults filled in, checked against each input's schema."""
    specs = doc.get("inputs") or {}
    unknown = set(given) - set(specs)
    if unknown:
        raise ValueError(f"{doc['name']}: unknown inputs {sorted(unknown)}")
    values = {}
    for name, spec in specs.items():
        if name in given:
            values[name] = given[name]
        elif "default" in spec:
            values[name] = spec["default"]
        else:
            raise ValueError(f"{doc['name']}: input {name!r} is required")
        jsonschema.validate(values[name], {k: v for k, v in spec.items() if k != "default"})
    return values


_OPEN: list[Harness] = []


def close_all() -> None:
    """Close the runtime of every harness made so far (the conftest does, after each test)."""
    while _OPEN:
        _OPEN.pop().close()


def _quiet(row: InstanceRow) -> bool:
    """Whether a RUNNING instance only waits: no step runs, some wait or sleep step waits."""
    props = stored_properties(row)
    return (
        row.status == RuntimeStatus.RUNNING.value
        and not props.get("wfkit.steps.running_now")
        and bool(props.get("wfkit.steps.waiting_now"))
    )


def history_log(events: list[HistoryEvent]) -> list[str]:
    """Lines for what the history shows: retries, sleeps, breakpoints, children, failures."""
    log: list[str] = []
    children: dict[str, str] = {}
    last_failure: dict[tuple[str, int | None], str] = {}
    for event in events:
        if isinstance(event, TaskFailed):
            last_failure[event.step, event.index] = event.failure.type
        elif isinstance(event, TimerCreated) and event.purpose == "retry":
            delay = round(event.fire_at - event.at, 3)
            cause = last_failure.get((event.step, event.index), "Error")
            log.append(f"retry {event.step} in {delay:g}s after {cause}")
        elif isinstance(event, TimerCreated) and event.purpose == "sleep":
            log.append(f"sleep {event.step} {round(event.fire_at - event.at, 3):g}s")
        elif isinstance(event, ExecutionSuspended) and event.reason == "breakpoint":
            log.append(f"pause_before {event.step}")
        elif isinstance(event, SubOrchestrationInstanceCreated):
            children[event.child_id] = event.name
        elif isinstance(event, SubOrchestrationInstanceCompleted):
            log.append(f"child {children.get(event.child_id, '?')} COMPLETED")
        elif isinstance(event, SubOrchestrationInstanceFailed):
            log.append(f"child {children.get(event.child_id, '?')} FAILED")
        elif isinstance(event, StepFailed):
            log.append(f"failed {event.step}")
    return log


@dataclass
class Harness:
    """Runs definitions through the real engine, with ``cwd`` as its working directory.

    One :class:`Runtime` per harness (a SQLite file in ``cwd``), made on the first run and
    closed by :meth:`close` (the conftest closes every harness after each test). ``events``
    are raised on each started instance at once: the engine buffers them until a ``wait``
    step takes them.
    """

    cwd: Path
    events: dict[str, list[Any]] = field(default_factory=dict)
    timeout: float = 60
    _runtime: Runtime | None = field(default=None, init=False, repr=False)

    @property
    def runtime(self) -> Runtime:
        """The engine of this harness (started on first use, from ``cwd``)."""
        if self._runtime is None:
            settings = Settings(
                definitions=str(DEFINITIONS),
                store=f"sqlite:///{self.cwd / '.wfkit-harness.db'}",
                workers=2,
            )
            with contextlib.chdir(self.cwd):  # the engine's workdir: where shell steps run
                self._runtime = Runtime(settings)
            _OPEN.append(self)
        return self._runtime

    def close(self) -> None:
        """Stop the engine (idempotent)."""
        if self._runtime is not None:
            runtime, self._runtime = self._runtime, None
            runtime.close()

    def run(self, name: str, inputs: Mapping[str, Any], instance_id: str = "run-1") -> Run:
        """Run ``definitions/<name>.yaml`` with ``inputs`` until it ends or only waits.

        Breakpoints (``pause_before``) are resumed. A run that waits for an event it was
        not given, or for a sleep, comes back RUNNING with that step ``waiting``.
        """
        instance = self.runtime.start(name, dict(inputs), instance_id=instance_id)
        for event, payloads in self.events.items():
            for data in payloads:
                instance.raise_event(event, data)
        self.settle(instance)
        return self.summary(instance)

    def settle(self, instance: Instance) -> None:
        """Wait until ``instance`` is terminal or only waits, resuming at breakpoints."""
        ops = self.runtime.workflows
        deadline = time.monotonic() + self.timeout
        while True:
            row = ops.get(instance.id)  # polled: a RUNNING row changes without a new status
            if RuntimeStatus(row.status).is_terminal:
                return
            if row.status == RuntimeStatus.SUSPENDED.value:
                if stored_properties(row).get("wfkit.pause_reason") != "breakpoint":
                    return
                instance.resume()
                continue
            if _quiet(row):  # settled only if nothing more happens for a moment
                time.sleep(0.2)
                if ops.get(instance.id).version == row.version:
                    return
                continue
            if time.monotonic() > deadline:
                raise TimeoutError(f"{instance.id} is still {row.status} after {self.timeout} s")
            time.sleep(0.05)

    def terminate(self, run: Run, reason: str = "test over") -> Run:
        """Terminate the instance of ``run`` (a sleep too long for a test, say); its new Run."""
        instance = self.runtime.instance(run.instance_id)
        instance.terminate(reason)
        instance.wait(self.timeout)
        return self.summary(instance)

    def summary(self, instance: Instance) -> Run:
        """The :class:`Run` of an instance as it is now."""
        status = instance.status.value
        run = Run(instance.name, instance.id, status, output=instance.output)
        for step_id, info in instance.steps.items():
            record: dict[str, Any] = {
                "status": info.status,
                "output": info.output,
                "attempts": info.attempts,
            }
            if info.error is not None:
                record["error"] = f"{info.error.type}: {info.error.message}"
            run.steps[step_id] = record
        run.log = history_log(instance.history())
        return run
