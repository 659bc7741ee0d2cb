"""The engine: the Workflow contract, statuses, history events, the pure decide() core
and the engine loop. It owns the Store, StepRunner and Hook protocols and never imports
a backend, a widget or the CLI: they are handed to it."""
