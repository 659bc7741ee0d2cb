"""The friendly layer for notebooks and scripts: ``wfkit.open()``, runs and instances.

::

    engine = wfkit.open(definitions="definitions")      # SQLite in .wfkit/ by default
    run = engine.run("sales-pipeline")      # start and wait
    run.status, run.output, run.steps["aggregate"].output
    job = engine.start("train-model")                    # returns at once
    job.raise_event("model-approved", {"approved": True})
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wfkit.definition.model import Definition
from wfkit.engine.core.history import HistoryEvent
from wfkit.engine.core.state import InstanceState
from wfkit.engine.loop.engine import Engine
from wfkit.engine.loop.operations import Workflows
from wfkit.engine.protocols import Hook, StoreSpace
from wfkit.engine.settings import EngineSettings
from wfkit.graph import Catalog, parse_definition
from wfkit.runtime.changes import InstanceChanges
from wfkit.runtime.folder import DefinitionsFolder
from wfkit.runtime.instance import Instance, SnapshotReader, StepInfo
from wfkit.runtime.settings import Settings
from wfkit.runtime.snapshot import InstanceSnapshot, SnapshotBuilder
from wfkit.steps import open_routing_runner
from wfkit.store import open_store, redact

__all__ = ["Instance", "Runtime", "SnapshotReader", "StepInfo", "open_runtime"]

_log = logging.getLogger(__name__)

_BUILDERS_KEPT = 4096
"""Instances whose last snapshot is kept for the next commit's (the oldest are dropped:
an instance released unfinished is never heard of again here)."""


class Runtime:
    """Definitions, a store and an engine running in background threads of this process."""

    def __init__(
        self,
        settings: Settings,
        hooks: Sequence[Hook] = (),
        *,
        run_engine: bool = True,
        claim_free: bool = True,
        create_store: bool = True,
        dask_client: Any = None,
    ) -> None:
        """``run_engine=False`` only reads and writes the store (as ``wfkit get`` does),
        and so does ``settings.workers == 0`` (a client: its instances run elsewhere);
        ``claim_free=False`` runs only the instances started here and their children,
        leaving the store's other free instances to workers (as ``wfkit run`` does);
        ``create_store=False`` refuses a store that does not exist yet (for readers).
        ``dask_client``: a ``distributed.Client`` that steps on Dask run through (over
        the ``dask_scheduler`` setting)."""
        #: Where the definitions and the store are, and how many steps run at once.
        self.settings = settings
        #: The definitions folder, read again when its files change.
        self.folder = DefinitionsFolder(settings.definitions)
        if run_engine:  # read at once (and warn now); wfkit get, list or pause need none
            self.folder.reload()
        definitions_dir = str(Path(settings.definitions).resolve())
        #: The durable store of instances and their histories.
        self.store = open_store(settings.store, create=create_store)
        #: Runs the steps: the runner the ``runner`` setting names (``local``: threads of
        #: this process, and subprocesses for shell and notebook steps; ``dask``: a Dask
        #: cluster), and the other one for the steps whose ``runner`` key names it.
        self.runner = open_routing_runner(
            settings.runner,
            workers=max(settings.workers, 1),
            dask_scheduler=settings.dask_scheduler,
            dask_client=dask_client,
            dask_resource_wait=settings.dask_resource_wait,
        )
        #: Listeners told of every commit, with keyword arguments ``instance_id``,
        #: ``events``, ``status`` and ``snapshot`` (an :class:`InstanceSnapshot` after the
        #: commit), and more in later versions: accept ``**future_kwargs``. Append to it
        #: and remove from it at any time, from any thread.
        self.hooks: list[Hook] = list(hooks)
        self._builders: OrderedDict[str, SnapshotBuilder] = OrderedDict()
        self._builders_lock = threading.Lock()
        #: Claims, decides and commits; the runtime hears of every commit from it.
        self.engine = Engine(
            store=self.store,
            runner=self.runner,
            resolve=self.definition,
            parse=parse_definition,
            hooks=[self._publish],
            settings=EngineSettings(
                workdir=os.getcwd(),
                definitions_dir=definitions_dir,
                claim_free=claim_free,
                expression_budget=settings.budget,
                max_foreach_items=settings.max_foreach_items,
                max_output_bytes=settings.max_output_bytes,
                max_buffered_events=settings.max_buffered_events,
            ),
        )
        #: The operations of the Workflow contract on this store (what ``Instance`` uses).
        self.workflows = Workflows(self.engine)
        #: Tells followers (notebook widgets) that their instance changed in the store,
        #: from one thread waiting on the store's change notification.
        self.changes = InstanceChanges(self.store)
        if definitions_dir not in sys.path:
            sys.path.insert(0, definitions_dir)
        if run_engine and settings.workers > 0:
            self.engine.start_background()

    def _publish(
        self, *, instance_id: str, events: Sequence[HistoryEvent], state: Any = None, **_: Any
    ) -> None:
        """The engine's hook: a snapshot of the instance for every listener of
        :attr:`hooks` (made once per commit, and only when someone listens)."""
        if not self.hooks or not isinstance(state, InstanceState):
            return
        snapshot = self._snapshot(instance_id, state, events)
        for hook in tuple(self.hooks):  # listeners may remove themselves from any thread
            try:
                hook(
                    instance_id=instance_id,
                    events=list(events),
                    status=snapshot.status,
                    snapshot=snapshot,
                )
            except Exception:  # a broken listener never stops a run
                _log.exception("a wfkit hook failed (ignored)")

    def _snapshot(
        self, instance_id: str, state: InstanceState, events: Sequence[HistoryEvent]
    ) -> InstanceSnapshot:
        with self._builders_lock:
            builder = self._builders.get(instance_id)
            if builder is None:
                builder = self._builders[instance_id] = SnapshotBuilder()
                while len(self._builders) > _BUILDERS_KEPT:
                    self._builders.popitem(last=False)
            else:
                self._builders.move_to_end(instance_id)
        # the engine tells one instance's commits one at a time: the builder needs no lock
        snapshot = builder.build(self.engine.plan_for(state.definition_hash), state, events)
        if snapshot.is_terminal:
            with self._builders_lock:
                self._builders.pop(instance_id, None)
        return snapshot

    # -- definitions ----------------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        """The workflows of the definitions folder, as the files are now (edits count
        from the next start; running instances keep their text), and those added with
        :meth:`add`."""
        return self.folder.catalog

    def definition(self, name: str) -> Definition:
        """The definition of workflow ``name`` from the definitions folder."""
        return self.catalog.get(name)

    def reload(self) -> None:
        """Read the definitions folder again now (edits are also picked up by themselves,
        within a second); running instances keep their own text."""
        self.folder.reload()

    def add(self, definition: Definition) -> None:
        """Register a definition made in this session (from a notebook cell, say)."""
        self.folder.add(definition)

    # -- instances ------------------------------------------------------------------------

    def start(
        self,
        name: str,
        input: dict[str, Any] | None = None,
        /,
        *,
        instance_id: str = "",
        **inputs: Any,
    ) -> Instance:
        """Start workflow ``name`` with inputs (a mapping and/or keywords); returns at once."""
        values = {**(input or {}), **inputs}
        return Instance(self, self.workflows.start(name, values, instance_id))

    def run(
        self,
        name: str,
        input: dict[str, Any] | None = None,
        /,
        *,
        instance_id: str = "",
        timeout: float | None = None,
        **inputs: Any,
    ) -> Instance:
        """Start workflow ``name`` and wait until it is terminal (or suspended)."""
        instance = self.start(name, input, instance_id=instance_id, **inputs)
        return instance.wait(timeout, until="suspended")

    def instance(self, instance_id: str) -> Instance:
        """A handle on an existing instance (:class:`InstanceNotFound` when there is none)."""
        self.workflows.get(instance_id)
        return Instance(self, instance_id)

    def instances(
        self, status: str | Sequence[str] = (), name: str | None = None, limit: int = 50
    ) -> list[Instance]:
        """Instances, newest first, optionally filtered by status and workflow name."""
        statuses = [status] if isinstance(status, str) else list(status)
        rows = self.workflows.list(status=statuses, name=name, limit=limit)
        return [Instance(self, row.instance_id) for row in rows]

    def purge(
        self,
        *,
        status: Sequence[str] = (),
        before: float | None = None,
        recursive: bool = True,
    ) -> int:
        """Delete every ended instance with one of ``status`` (any ended one when empty)
        last updated before ``before`` (epoch seconds; None: now), with its children
        when ``recursive``; returns how many were deleted. Running instances are never
        deleted; the space freed goes back to the disk. One instance:
        ``instance(id).purge()``."""
        return self.workflows.purge_ended(status=status, before=before, recursive=recursive)

    @property
    def dask_dashboard(self) -> str | None:
        """The Dask dashboard's address, once a step was sent to a Dask cluster that has
        one (None before, and with the local runner only)."""
        for runner in self.runner.runners.values():
            link = getattr(runner, "dashboard_link", None)
            if isinstance(link, str):
                return link
        return None

    def vacuum(self) -> StoreSpace:
        """Rebuild the store file without its free space (a store made by an earlier
        wfkit also starts giving freed space back by itself); returns its size after."""
        return self.workflows.reclaim(full=True)

    def close(self, *, drain: float = 0.0) -> None:
        """Stop the engine (running instances are taken over by the next one). With
        ``drain`` seconds, running steps first get that long to finish and be recorded,
        while nothing new starts."""
        self.engine.stop(drain=drain)
        self.changes.close()
        self.runner.close()
        self.store.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<wfkit runtime: {len(self.catalog)} workflows from {self.settings.definitions}, "
            f"store {redact(self.settings.store)}, {self.settings.workers} workers>"
        )


def open_runtime(
    definitions: str | os.PathLike[str] | None = None,
    store: str | None = None,
    workers: int | None = None,
    *,
    hooks: Sequence[Hook] = (),
    runner: str | None = None,
    dask_scheduler: str | None = None,
    dask_client: Any = None,
) -> Runtime:
    """Open definitions and a store and start an engine in this process.

    Defaults come from ``WFKIT_DEFINITIONS``, ``WFKIT_STORE`` and ``WFKIT_WORKERS``, then
    ``definitions``, ``sqlite:///.wfkit/wfkit.db`` and the CPU count. ``workers=0``
    attaches as a client: no engine runs here, and what it starts, waits for and shows
    is run by ``wfkit worker`` processes on the same store (docs/concepts/scaling-out.md).
    ``runner="dask"`` runs the steps on a Dask cluster: ``dask_client`` (a
    ``distributed.Client``), else the scheduler at ``dask_scheduler``
    (``WFKIT_DASK_SCHEDULER``), else a local cluster started on first use
    (docs/guides/dask.md); with a ``dask_client`` and no ``runner``, steps still run
    here unless their workflow or step says ``runner: dask``.
    """
    settings = Settings.from_environment(
        definitions=None if definitions is None else os.fspath(definitions),
        store=store,
        workers=None if workers is None else str(workers),
        runner=runner,
        dask_scheduler=dask_scheduler,
    )
    return Runtime(settings, hooks, dask_client=dask_client)
