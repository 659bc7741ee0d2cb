"""A small reference interpreter for the example definitions, for tests only.

It is a test double, not the engine: no durability, no threads, no timers (retry delays
and sleeps are recorded, not waited), steps run one at a time in dependency order. It
follows DESIGN.md §5 closely enough to check that each example's YAML and its step code
fit together: expressions are evaluated with CEL (whole-value expressions keep their type,
embedded ones are interpolated as text), ``when``, ``foreach``/``item``/``index``,
``retry``, ``on_error``, ``outputs`` schemas, ``finally`` with ``workflow.status``, child
workflows, ``wait`` fed from a dict of events, and the workflow ``output``.
"""

from __future__ import annotations

import contextlib
import graphlib
import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cel
import jsonschema
import yaml

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


class StepError(Exception):
    """A step attempt failed."""


@dataclass
class Run:
    """What running a definition through the harness gave."""

    name: str
    inputs: dict[str, Any]
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


class _Waiting(Exception):
    pass


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


@dataclass
class Harness:
    """Runs definitions; ``cwd`` is the working directory of shell steps."""

    cwd: Path
    events: dict[str, list[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.events = {name.lower(): list(data) for name, data in self.events.items()}

    def run(self, name: str, inputs: Mapping[str, Any], instance_id: str = "run-1") -> Run:
        """Run ``definitions/<name>.yaml`` with ``inputs`` until it ends or waits."""
        doc = load(name)
        run = Run(name, apply_inputs(doc, inputs))
        workflow = {"id": instance_id, "name": doc["name"], "status": "RUNNING"}
        main, final = doc["steps"], doc.get("finally") or {}
        for step_id in {**main, **final}:
            run.steps[step_id] = {"status": "pending", "output": None, "attempts": 0}
        try:
            failed = self._run_steps(doc, main, run, workflow)
        except _Waiting:
            return run
        workflow["status"] = "FAILED" if failed else "COMPLETED"
        self._run_steps(doc, final, run, workflow)
        run.status = str(workflow["status"])
        if run.status == "COMPLETED" and "output" in doc:
            run.output = render(doc["output"], self._context(run, workflow))
        return run

    def _context(self, run: Run, workflow: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "inputs": run.inputs,
            "steps": {
                k: {"status": v["status"], "output": v["output"]} for k, v in run.steps.items()
            },
            "workflow": dict(workflow),
        }

    def _run_steps(
        self, doc: Mapping[str, Any], steps: Mapping[str, Any], run: Run, workflow: Any
    ) -> bool:
        graph = {
            sid: (set(s.get("needs", [])) | step_refs(s)) & set(steps) for sid, s in steps.items()
        }
        for step_id in graphlib.TopologicalSorter(graph).static_order():
            step = steps[step_id]
            record = run.steps[step_id]
            context = self._context(run, workflow)
            if "when" in step and render(step["when"], context) is not True:
                record["status"] = "skipped"
                continue
            if step.get("pause_before"):
                run.log.append(f"pause_before {step_id}")
            try:
                record["output"] = self._execute(doc, step_id, step, context, run)
                record["status"] = "completed"
            except _Waiting:
                record["status"] = "waiting"
                raise
            except Exception as exc:
                record.update(status="failed", error=f"{type(exc).__name__}: {exc}")
                run.log.append(f"failed {step_id}: {record['error']}")
                if step.get("on_error", "fail") != "continue":
                    return True
        return False

    def _execute(
        self,
        doc: Mapping[str, Any],
        step_id: str,
        step: Mapping[str, Any],
        context: dict[str, Any],
        run: Run,
    ) -> Any:
        if "foreach" in step:
            items = render(step["foreach"], context)
            return [
                self._attempts(doc, step_id, step, {**context, "item": item, "index": i}, run)
                for i, item in enumerate(items)
            ]
        return self._attempts(doc, step_id, step, context, run)

    def _attempts(
        self,
        doc: Mapping[str, Any],
        step_id: str,
        step: Mapping[str, Any],
        context: dict[str, Any],
        run: Run,
    ) -> Any:
        policy = step.get("retry") or (doc.get("defaults") or {}).get("retry") or {}
        attempts = int(policy.get("max_attempts", 1))
        delay = parse_duration(policy.get("initial_interval", "1s"))
        for attempt in range(1, attempts + 1):
            run.steps[step_id]["attempts"] += 1
            try:
                result = self._once(doc, step_id, step, context, run)
                if "outputs" in step:
                    jsonschema.validate(result, step["outputs"])
                return result
            except _Waiting:
                raise
            except Exception as exc:
                if attempt == attempts:
                    raise
                wait = delay * float(policy.get("backoff_coefficient", 1)) ** (attempt - 1)
                if "max_interval" in policy:
                    wait = min(wait, parse_duration(policy["max_interval"]))
                run.log.append(f"retry {step_id} in {wait:g}s after {type(exc).__name__}")
        raise AssertionError("unreachable")

    def _once(
        self,
        doc: Mapping[str, Any],
        step_id: str,
        step: Mapping[str, Any],
        context: dict[str, Any],
        run: Run,
    ) -> Any:
        kind = next(k for k in KINDS if k in step)
        given = render(step.get("with") or {}, context)
        timeout = step.get("timeout") or (doc.get("defaults") or {}).get("timeout") or 60
        if kind == "call":
            module, _, function = step["call"].partition(":")
            result = getattr(importlib.import_module(module), function)(**given)
            return json.loads(json.dumps(result, allow_nan=False))
        if kind == "shell":
            out = self.cwd / f".wfkit-output-{step_id}.json"
            env = env_strings(step.get("env"), context)
            proc, result = run_shell(step["shell"], env, out, self.cwd, parse_duration(timeout))
            run.log.append(f"shell {step_id} exit {proc.returncode} {proc.stderr.strip()}")
            if proc.returncode:
                raise StepError(f"{step_id} exited {proc.returncode}: {proc.stderr.strip()}")
            return result
        if kind == "notebook":
            out = self.cwd / f".wfkit-output-{step_id}.json"
            env = {**env_strings(step.get("env"), context), "WFKIT_OUTPUT": str(out)}
            exec_notebook(DEFINITIONS / step["notebook"], given, env)
            return json.loads(out.read_text(encoding="utf-8"))
        if kind == "workflow":
            child_id = f"{context['workflow']['id']}-{step_id}"
            child = Harness(self.cwd).run(step["workflow"], given, child_id)
            run.log.append(f"child {step['workflow']} {child.status}")
            if child.status != "COMPLETED":
                raise StepError(f"child workflow {step['workflow']} ended {child.status}")
            return child.output
        if kind == "wait":
            queue = self.events.get(step["wait"]["event"].lower(), [])
            if not queue:
                raise _Waiting(step_id)
            return queue.pop(0)
        run.log.append(f"sleep {step_id} {parse_duration(step['sleep']):g}s")
        return None
