"""The pure core of the engine: what a workflow instance is and what happens next.

:mod:`~wfkit.engine.core.history` has the events (the durable truth);
:mod:`~wfkit.engine.core.state` folds them into an ``InstanceState``;
:mod:`~wfkit.engine.core.plan` prepares a definition for deciding;
:mod:`~wfkit.engine.core.decide` turns a state and new events into more events and
:mod:`~wfkit.engine.core.actions`; :mod:`~wfkit.engine.core.status` holds the statuses
and the table of legal transitions. Nothing here does I/O, reads a clock or starts a
thread, and nothing here imports the wire format, the loop or the store protocols
(an import-linter contract checks it)."""
