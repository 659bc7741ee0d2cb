"""The ``wfkit`` command line: thin wiring over the engine, store and views."""
