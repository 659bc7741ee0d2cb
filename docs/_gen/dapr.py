"""``reference/dapr.md``: how wfkit maps to Dapr's workflow component API.

The prose is ``templates/dapr.md``. The record fields and their JSON names are read from
the dataclasses of :mod:`wfkit.engine.wire.contract`, the status strings from
``RuntimeStatus``, the ``dapr.workflow.*`` keys from the contract's constants, the
``wfkit.*`` keys from what the engine actually reports for a small instance, the
settings from :mod:`wfkit.runtime.settings`, and the error text from
``ErrNotImplemented``. Each key must have a meaning below, so a new key fails the
generator until it is documented.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from docs._gen._common import banner, code, fill, table, template

OUTPUT = "reference/dapr.md"

#: The operations of Dapr's interface: Go method, Python method, request, response.
OPERATIONS: tuple[tuple[str, str, str, str], ...] = (
    ("Init", "init", "Metadata", ""),
    ("Start", "start", "StartRequest", "StartResponse"),
    ("Terminate", "terminate", "TerminateRequest", ""),
    ("Get", "get", "GetRequest", "StateResponse"),
    ("RaiseEvent", "raise_event", "RaiseEventRequest", ""),
    ("Purge", "purge", "PurgeRequest", ""),
    ("Pause", "pause", "PauseRequest", ""),
    ("Resume", "resume", "ResumeRequest", ""),
    ("Close (io.Closer)", "close", "", ""),
)

#: What each operation does in wfkit, and the matching CLI command.
OPERATION_NOTES: dict[str, tuple[str, str]] = {
    "init": (
        "Opens the definitions folder and the store and starts an engine in "
        "background threads. An unknown property is an error naming the known ones.",
        "",
    ),
    "start": (
        "Checks the id and validates the input against the definition's `inputs` "
        "before storing anything; an empty id gets a uuid4.",
        "wfkit start",
    ),
    "terminate": (
        "Recursive to child workflows unless `recursive` is false; a no-op on a terminal instance.",
        "wfkit terminate",
    ),
    "get": ("The stored state; never replays the history.", "wfkit get"),
    "raise_event": (
        "The name is case-insensitive; the event is buffered until a `wait` "
        "step consumes it. Unknown instance: `InstanceNotFound`.",
        "wfkit raise-event",
    ),
    "purge": ("Terminal instances only; recursive unless `recursive` is false.", "wfkit purge"),
    "pause": ("Suspends between steps; refused on a terminal instance.", "wfkit pause"),
    "resume": ("Resumes a suspended instance.", "wfkit resume"),
    "close": (
        "Stops the engine; another engine on the same store takes its instances "
        "over. Also `with executor:`.",
        "",
    ),
}

#: Meaning of each ``dapr.workflow.*`` property, by constant name in the contract module.
DAPR_PROPERTIES: dict[str, str] = {
    "PROP_INPUT": "The instance's input, as JSON text (defaults applied).",
    "PROP_OUTPUT": "The workflow's output, as JSON text; only once `COMPLETED`.",
    "PROP_CUSTOM_STATUS": "A short line for people: `running train`, "
    "`waiting for event 'model-approved'`, `paused at the breakpoint before publish`, "
    "`completed`...",
    "PROP_FAILURE_ERROR_TYPE": "On `FAILED` or `TERMINATED`: the error's type, for example "
    "`TimeoutError`, `ExpressionError` or `Terminated`.",
    "PROP_FAILURE_ERROR_MESSAGE": "On `FAILED` or `TERMINATED`: the message (naming the "
    "failed step).",
    "PROP_FAILURE_STACK_TRACE": "On `FAILED` or `TERMINATED`: the stack trace, when there is one.",
}

#: Meaning of each ``wfkit.*`` property (without the prefix).
WFKIT_PROPERTIES: dict[str, str] = {
    "definition_hash": "sha256 of the definition text the run is pinned to.",
    "steps.total": "Number of steps, `finally` steps included.",
    "steps.pending": "The number of steps in one step status; there is a key for each.",
    "steps.running_now": "Comma-separated ids of the steps running now.",
    "steps.waiting_now": "Comma-separated ids of the steps waiting (for an event or a timer) now.",
    "paused_at": "While suspended at a breakpoint: the step it stopped before.",
    "pause_reason": "While suspended: `pause`, `breakpoint` or `step`.",
    "parent_id": "For a child workflow: the parent's instance id.",
    "failed_step": "The id of a failed step (the first in step order), or empty.",
    "events_buffered": "Events raised and not yet consumed by a `wait` step.",
    "owner": "The id of the engine that holds the run's lease (`host:pid:random`), or empty.",
    "owner.state": "`owned` (a live owner holds the lease), `lost` (its lease ran out, or its "
    "process on this host has exited: the next worker takes the run over), `unclaimed` (no "
    "owner yet, or it was given up) or `ended` (terminal). A `RUNNING` run whose owner is "
    "`lost` is carried on by nobody until then.",
    "owner.lease_until": "When the owner's lease ends (seconds since the epoch), or empty.",
    "owner.description": "The same in a sentence, as `wfkit get` prints it.",
}

#: Meaning of each ``init`` property (component setting).
SETTINGS: dict[str, str] = {
    "definitions": "Folder of YAML definitions.",
    "store": "Store URL: `sqlite:///path/to/file.db`, or `sqlite:///:memory:` for one process.",
    "workers": "Steps this process runs at once.",
    "runner": "Which step runner runs the steps, by name: `local` (threads and "
    "subprocesses of this process) or `dask` (the workers of a Dask cluster, "
    "see the Heavy steps on Dask guide); an unknown name is an error naming the "
    "known ones. A workflow or step may say `runner:` itself.",
    "dask_scheduler": "The Dask scheduler's address (`tcp://host:8786`) for steps that run "
    "on Dask; empty: a local cluster of `workers` worker processes started on first use.",
    "dask_resource_wait": "Seconds a step on Dask whose `resources` no worker offers waits "
    "for such a worker to join before it fails with `ResourcesUnavailable` "
    "([limits](../concepts/limits.md)).",
    "expression_budget": "What one evaluation of an expression may cost, in units of about "
    "one element copied; a costlier one fails its step ([limits](../concepts/limits.md)).",
    "expression_max_result": "The most characters (as JSON) an expression's result may have; "
    "a bigger one fails its step ([limits](../concepts/limits.md)).",
    "max_foreach_items": "The most items one `foreach` may give; a longer list fails its "
    "step ([limits](../concepts/limits.md)).",
    "max_output_bytes": "The largest step output, in bytes of JSON; a bigger one fails its "
    "step with `OutputTooLarge` (see [Limits](../concepts/limits.md)).",
    "max_buffered_events": "Events an instance may hold that no wait step has consumed; "
    "one more is refused with `EventBufferFull`.",
    "store_outage_timeout": "Seconds `wfkit run` keeps retrying a store that fails (disk "
    "full...) before it exits 5; workers keep trying.",
}


def _records() -> list[type]:
    from wfkit.engine.wire import contract

    found = []
    for name in contract.__all__:
        obj = getattr(contract, name)
        if isinstance(obj, type) and dataclasses.is_dataclass(obj):
            found.append(obj)
    return found


def _default(spec: dataclasses.Field[Any]) -> str:
    if spec.default is not dataclasses.MISSING:
        return code(repr(spec.default))
    if spec.default_factory is not dataclasses.MISSING:
        return code(repr(spec.default_factory()))
    return "required"


def _records_section() -> str:
    parts = []
    for record in _records():
        doc = (record.__doc__ or "").strip().split("\n\n")[0]
        doc = " ".join(doc.split()).replace("``", "`")
        doc = doc.replace(":meth:`", "`").replace(":class:`", "`")
        rows = [
            [code(f.name), code(f.metadata["json"]), code(str(f.type)), _default(f)]
            for f in dataclasses.fields(record)
        ]
        parts.append(
            f"### `{record.__name__}` {{#{record.__name__.lower()}}}\n\n{doc}\n\n"
            + table(("Python", "JSON", "type", "default"), rows)
        )
    return "\n".join(parts)


def _operations() -> str:
    from wfkit.engine.wire.contract import Workflow

    rows = []
    for go, python, request, response in OPERATIONS:
        if not callable(getattr(Workflow, python, None)):
            raise ValueError(f"Workflow has no method {python!r}")
        note, command = OPERATION_NOTES[python]
        params = list(inspect.signature(getattr(Workflow, python)).parameters)[1:]
        rows.append(
            [
                code(go),
                code(f"{python}({', '.join(params)})"),
                f"[`{request}`](#{request.lower()})" if request else "",
                f"[`{response}`](#{response.lower()})" if response else "",
                note,
                f"[`{command}`](cli.md#{command.split()[1]})" if command else "",
            ]
        )
    return table(("Go", "Python", "request", "response", "in wfkit", "CLI"), rows)


def _statuses() -> str:
    from wfkit.engine.core.status import RuntimeStatus

    return ", ".join(code(s.value) for s in RuntimeStatus)


def _dapr_properties() -> str:
    from wfkit.engine.wire import contract

    names = [n for n in DAPR_PROPERTIES if n in contract.__all__]
    declared = [n for n in contract.__all__ if n.startswith("PROP_")]
    if sorted(declared) != sorted(DAPR_PROPERTIES):
        raise ValueError(f"PROP_* constants {declared} differ from {sorted(DAPR_PROPERTIES)}")
    return table(
        ("key", "meaning"),
        [[code(getattr(contract, n)), DAPR_PROPERTIES[n]] for n in names],
    )


def sample_properties() -> dict[str, str]:
    """The properties the engine reports for a one-step instance, computed purely."""
    from wfkit.engine.core.decide import decide
    from wfkit.engine.core.history import ExecutionStarted
    from wfkit.engine.core.plan import WorkflowPlan
    from wfkit.engine.wire.summary import properties
    from wfkit.graph import parse_definition

    definition = parse_definition("wfkit: 1\nname: sample\nsteps:\n  a: {wait: go}\n")
    plan = WorkflowPlan.of(definition)
    started = ExecutionStarted(
        at=1.0, seq=1, name="sample", input={}, definition_hash=definition.content_hash
    )
    decision = decide(plan, [], [started], instance_id="sample", now=1.0)
    return properties(plan, decision.state)


def _wfkit_properties() -> str:
    from wfkit.engine.core.status import StepStatus
    from wfkit.engine.wire.contract import WFKIT_PREFIX
    from wfkit.runtime.ownership import Ownership

    owner = Ownership("ended", None, None, None, None, 0.0).properties()  # get adds these
    sample = [*sample_properties(), *owner]
    keys = [k[len(WFKIT_PREFIX) :] for k in sample if k.startswith(WFKIT_PREFIX)]
    per_status = {f"steps.{s.value}" for s in StepStatus}
    documented = set(WFKIT_PROPERTIES) | per_status
    unknown = [k for k in keys if k not in documented]
    if unknown:
        raise ValueError(f"wfkit.* properties without a meaning in docs/_gen/dapr.py: {unknown}")
    rows = []
    status_rows_done = False
    for key in keys:
        if key in per_status:
            if status_rows_done:
                continue
            status_rows_done = True
            statuses = ", ".join(s.value for s in StepStatus)
            rows.append(
                [
                    code(f"{WFKIT_PREFIX}steps.<status>"),
                    f"{WFKIT_PROPERTIES['steps.pending']} `<status>` is one of {statuses}.",
                ]
            )
            continue
        rows.append([code(WFKIT_PREFIX + key), WFKIT_PROPERTIES[key]])
    return table(("key", "meaning"), rows)


def _settings() -> str:
    from wfkit.runtime.settings import DEFAULTS

    if sorted(DEFAULTS) != sorted(SETTINGS):
        raise ValueError(f"settings {sorted(DEFAULTS)} differ from {sorted(SETTINGS)}")
    return table(
        ("property", "environment", "default", "meaning"),
        [
            [
                code(k),
                code(f"WFKIT_{k.upper()}"),
                _setting_default(k, v),
                SETTINGS[k],
            ]
            for k, v in DEFAULTS.items()
        ],
    )


def _setting_default(name: str, value: str) -> str:
    """A setting's default as the table shows it: the text default, else the value a
    ``Settings()`` gets (the CPU count for workers, which depends on the machine)."""
    from wfkit.runtime.settings import Settings

    if value:
        return code(value)
    if name == "workers":
        return "the CPU count"
    if name == "dask_scheduler":
        return "none (a local cluster)"
    return code(f"{getattr(Settings(), name):_}")


def _not_implemented() -> str:
    from wfkit.errors import ErrNotImplemented

    return code(ErrNotImplemented.MESSAGE)


def _http() -> str:
    from docs._gen.cli import _parser, subcommands

    if "serve" in subcommands(_parser()):
        return (
            "`wfkit serve` exposes these operations over HTTP; see [`wfkit serve`](cli.md#serve)."
        )
    return (
        "This version has no HTTP server (no `wfkit serve`): use `StepExecutor` from "
        "Python, or the [command line](cli.md)."
    )


def render() -> str:
    """The page."""
    text = fill(
        template("dapr.md"),
        {
            "operations": _operations(),
            "records": _records_section(),
            "statuses": _statuses(),
            "dapr_properties": _dapr_properties(),
            "wfkit_properties": _wfkit_properties(),
            "settings": _settings(),
            "not_implemented": _not_implemented(),
            "http": _http(),
        },
    )
    source = "`wfkit/engine/wire/contract.py`, the engine and `docs/_gen/templates/dapr.md`"
    return banner(source) + text
