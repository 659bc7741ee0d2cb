"""Programs that the ``shell:`` steps of ``build-package.yaml`` run with ``python -m``.

Each reads its settings from environment variables (the step's ``env``; values that are
not strings arrive JSON-encoded), writes its result as JSON to the file named by
``$WFKIT_OUTPUT`` (or to stdout when that is unset), and exits with status 1 and a
message on stderr when the build must stop.
"""
