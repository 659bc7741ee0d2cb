"""The pure core of the engine: what a workflow instance is and what happens next.

:mod:`~wfkit.engine.core.history` has the events (the durable truth);
:mod:`~wfkit.engine.core.state` folds them into an ``InstanceState`` (its records are in
:mod:`~wfkit.engine.core.instance`); :mod:`~wfkit.engine.core.plan` prepares a
definition for deciding; :mod:`~wfkit.engine.core.decide` turns a state and new events
into more events (gathered in an :mod:`~wfkit.engine.core.outbox`) and
:mod:`~wfkit.engine.core.actions`, with the help of :mod:`~wfkit.engine.core.starting`
(steps and tasks that may start) and :mod:`~wfkit.engine.core.failures` (retry or fail,
timers, events); :mod:`~wfkit.engine.core.status` holds the statuses, task phases and
timer purposes (enums) and the table of legal transitions. Nothing here does I/O, reads
a clock or starts a thread, and nothing here imports the wire format, the loop or the
store protocols (an import-linter contract checks it)."""
