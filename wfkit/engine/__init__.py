"""The engine: it runs workflow instances from their histories. Three rooms, each with a
docstring of its own, and what they share:

* :mod:`wfkit.engine.core`: the pure rules. History events, the state they fold into,
  the plan of a definition, and ``decide``/``advance``, which turn events into new events
  and actions. No I/O, no threads, no clock: tested from hand-built histories.
* :mod:`wfkit.engine.wire`: Dapr's workflow contract (requests, responses, their JSON
  names and times) and the summary of an instance in that form. Imports the core only.
* :mod:`wfkit.engine.loop`: the threaded engine that claims instances, decides, commits
  and dispatches, with leases, wake-ups and the lifecycle operations. Imports both.
* :mod:`wfkit.engine.protocols` (the Store, StepRunner and Hook protocols and the plain
  records they exchange) and :mod:`wfkit.engine.settings` (``EngineSettings``).

The engine never imports a backend, a widget or the CLI: they are handed to it. The
import-linter contracts in ``pyproject.toml`` keep the rooms in this order.
"""
