"""``python -m wfkit`` is the ``wfkit`` command."""

from wfkit.cli.main import main

raise SystemExit(main())
