"""The plain records the engine, its store and its runner exchange: rows of the store
(:class:`InstanceRow`, :class:`EventRow`, :class:`InstanceUpdate`, :class:`StoreSpace`),
who holds an instance (:class:`Owner`), and a task with its outcome (:class:`TaskSpec`,
:class:`TaskOutcome`). Plain data only, so that one contract suite serves every backend
and a remote runner can carry a task as it is. The protocols that use them are in
:mod:`wfkit.engine.protocols`, which re-exports them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = [
    "EventRow",
    "InstanceRow",
    "InstanceUpdate",
    "Owner",
    "StoreSpace",
    "TaskOutcome",
    "TaskSpec",
]


class EventRow(NamedTuple):
    """One stored history event: its number, type name, time and JSON text (a named
    tuple: several are made at every commit)."""

    seq: int
    type: str
    at: float
    data: str


@dataclass
class InstanceRow:
    """One stored instance, as plain data.

    Times are seconds since the epoch (UTC). ``input``, ``output`` and ``failure`` are
    JSON text (or None); ``properties`` is JSON text of a flat string-to-string mapping
    (wfkit's summary: step counts, running and waiting steps). ``version`` is the number
    of history events. ``owner``/``lease_until`` say which process runs it, until when;
    ``last_owner``/``last_owner_until`` which one ran it before (the one a claim took it
    from, or that released it) and when its hold ended: a new owner records what that
    one left unfinished.
    """

    instance_id: str
    workflow_name: str
    status: str
    created_at: float
    updated_at: float
    definition_hash: str
    input: str | None = None
    output: str | None = None
    failure: str | None = None
    custom_status: str | None = None
    properties: str = "{}"
    parent_id: str | None = None
    version: int = 0
    owner: str | None = None
    lease_until: float | None = None
    last_owner: str | None = None
    last_owner_until: float | None = None


@dataclass
class InstanceUpdate:
    """The instance fields an append changes (None leaves a field as it is)."""

    status: str | None = None
    updated_at: float | None = None
    output: str | None = None
    failure: str | None = None
    custom_status: str | None = None
    properties: str | None = None


@dataclass(frozen=True)
class StoreSpace:
    """How big a store file is, how much of it is free pages, and whether freed pages
    are given back by themselves (``incremental``) or only by a full VACUUM."""

    file_bytes: int
    free_bytes: int
    incremental: bool

    def to_dict(self) -> dict[str, object]:
        """Plain data, for ``--json`` output."""
        return {
            "file_bytes": self.file_bytes,
            "free_bytes": self.free_bytes,
            "incremental": self.incremental,
        }


@dataclass(frozen=True)
class Owner:
    """A process that runs instances: a unique id plus where it lives (for takeover)."""

    id: str
    host: str
    pid: int


@dataclass(frozen=True)
class TaskSpec:
    """One unit of work for a step runner: one attempt of one step (or foreach item).

    Plain data, so that a runner may send it to another process or machine (pickled, or
    as JSON with a JSON ``input``). Two fields are paths that mean something only on the
    engine's machine: ``workdir`` and ``definitions_dir``. A runner whose workers see
    another filesystem (a Dask cluster, say) uses what is machine-independent instead:
    :attr:`definitions_relative` (the definitions folder relative to the working
    directory, for a worker that has the same project checked out), :attr:`call_module`
    (what a ``call`` step imports) and a notebook ``target`` as written in the definition
    (relative to the definitions folder).
    """

    instance_id: str
    step: str
    #: The step kind: ``call``, ``shell`` or ``notebook`` (what :meth:`StepRunner.kinds`
    #: names).
    kind: str
    #: What to run, as the definition says it: ``"module:function"`` for ``call``, an
    #: argv list of strings for ``shell``, a notebook path (relative to the definitions
    #: folder, or absolute on the engine's machine) for ``notebook``.
    target: Any
    #: The step's ``with`` values, evaluated (JSON data).
    input: Any = None
    #: The step's own ``env`` (evaluated, strings); not the engine process's environment.
    env: dict[str, str] = field(default_factory=dict)
    index: int | None = None
    attempt: int = 1
    #: Seconds the task may run (None: no limit); the runner stops it when it runs over.
    timeout: float | None = None
    #: The engine's working directory: an absolute path on the engine's machine (shell
    #: steps run there, notebooks are saved under it, ``call`` imports from it).
    workdir: str = "."
    #: The definitions folder: an absolute path on the engine's machine (``call``
    #: modules and notebook targets are found there). See :attr:`definitions_relative`.
    definitions_dir: str = "."
    #: Whether a ``call`` step looks for edits of its module's source (a stat) and
    #: reloads it: the engine asks for it at the first task of an instance it runs and
    #: at every retry, not at each step of a run.
    check_code: bool = True
    #: The largest output this task may give, in UTF-8 bytes of JSON (None: no limit);
    #: a handler refuses a bigger one before it reaches the engine (or reads a file
    #: that big), failing the task with ``OutputTooLarge``.
    max_output_bytes: int | None = None
    #: Where the step says it runs (``"local"``, ``"dask"``: its ``runner`` key, else its
    #: workflow's), or None: wherever the engine's runner runs tasks. A routing runner
    #: (:class:`wfkit.steps.routing.RoutingRunner`) reads it; the engine does not.
    runner: str | None = None
    #: Dask worker resources one attempt holds (``{"GPU": 1}``), or None.
    resources: dict[str, float] | None = None

    @property
    def key(self) -> str:
        """A name for logs and file names: ``instance/step[index]#attempt``."""
        item = "" if self.index is None else f"[{self.index}]"
        return f"{self.instance_id}/{self.step}{item}#{self.attempt}"

    @property
    def definitions_relative(self) -> str | None:
        """The definitions folder relative to ``workdir`` (``"."``, ``"definitions"``,
        ``"flows/defs"``), or None when it lies outside the working directory: what a
        worker on another machine, started in its own checkout of the project, joins to
        its working directory to find the definitions."""
        relative = os.path.relpath(
            os.path.abspath(self.definitions_dir), os.path.abspath(self.workdir)
        )
        return (
            None if relative == os.pardir or relative.startswith(os.pardir + os.sep) else relative
        )

    @property
    def call_module(self) -> str | None:
        """The module a ``call`` task imports (``"churn.etl"`` of ``"churn.etl:pull"``),
        found on a worker's import path; None for other kinds."""
        if self.kind != "call" or not isinstance(self.target, str):
            return None
        return self.target.partition(":")[0] or None


@dataclass(frozen=True)
class TaskOutcome:
    """What a task gave: an output, or a failure (``error_type`` set), plus details
    for inspection (stdout/stderr tails, exit code, executed notebook path...)."""

    output: Any = None
    error_type: str | None = None
    error_message: str = ""
    stack_trace: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    #: The output as strict JSON text, when the handler already made it (checked: no
    #: NaN, nothing that is not JSON), so that the engine need not check it again.
    output_json: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_type is None
