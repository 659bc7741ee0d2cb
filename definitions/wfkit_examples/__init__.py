"""Step code for the example definitions in ``definitions/``.

One module per example; every public function is a ``call:`` target that takes the
step's ``with`` mapping as keyword arguments and returns a JSON-serialisable value. The
``buildtools`` package holds the programs that ``shell:`` steps run with ``python -m``.
Everything here uses the standard library only and runs offline: the "remote" data lives
in ``data/`` beside this file.
"""

from pathlib import Path

#: Folder of the fixtures (CSV, JSON) the examples read instead of real services.
DATA_DIR = Path(__file__).resolve().parent / "data"

__all__ = ["DATA_DIR"]
