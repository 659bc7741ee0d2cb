"""The running engine: threads, a store and a runner put the core's decisions to work.

:mod:`~wfkit.engine.loop.engine` claims instances, decides with the core, commits their
new events in one transaction and dispatches tasks (:mod:`~wfkit.engine.loop.dispatch`);
:mod:`~wfkit.engine.loop.leases` claims and renews; :mod:`~wfkit.engine.loop.commits`
and :mod:`~wfkit.engine.loop.outage` handle commits that fail;
:mod:`~wfkit.engine.loop.operations` carries out the lifecycle operations (start,
raise_event, pause, ...) from any process; :mod:`~wfkit.engine.loop.records` turns
events into store rows and back. The loop may import the core and the wire format."""
