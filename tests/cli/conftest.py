"""The CLI tests share the helpers of :mod:`test_cli_instances` (its ``cwd`` folder and
``wfkit`` subprocess runner): this folder is put on the import path for that."""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
