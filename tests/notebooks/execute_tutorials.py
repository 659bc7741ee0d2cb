"""Execute the tutorial notebooks in place, so that their outputs can be committed.

Run it from the repository root after editing a tutorial (or the code it shows)::

    python tests/notebooks/execute_tutorials.py                 # every notebooks/NN-*.ipynb
    python tests/notebooks/execute_tutorials.py notebooks/02-pause-resume-step.ipynb

Then regenerate the documentation, always: each tutorial's page in ``docs/tutorials/`` is
made from the notebook's saved outputs, which change on every execution, and
``tests/docs`` fails when a page no longer matches its notebook::

    python -m docs._gen

nbval (``python -m pytest notebooks``) then runs them again and compares the outputs with
the committed ones, through ``notebooks/sanitize.cfg``; it does not compare cells that were
never executed, which is why the tutorials are committed with their outputs.

Each notebook runs on a fresh kernel of this Python, in ``notebooks/`` (as Jupyter and
nbval run it), with the widget state saved in its metadata (the tutorials call
``InstanceWidget.flush()`` in their last cell for that) and without per-cell timing
metadata. Executing twice changes the widget model ids (random) and the timings, ids and
paths that ``notebooks/sanitize.cfg`` masks, nothing else.
Graphs are drawn by ``graphviz-pure`` (``WFKIT_DOT`` is set to it), which gives the same
bytes on every machine, whatever ``dot`` is installed; nbval does not compare the SVG
anyway (the sanitize file replaces it), only the text beside it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import sysconfig
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
RENDERER = "graphviz-pure"
#: Printed after executing: the tutorials' docs pages are made from their saved outputs.
REGENERATE = (
    "now regenerate the docs pages made from these outputs: python -m docs._gen "
    "(then commit the notebooks and docs/tutorials/ together)"
)


def tutorials() -> list[Path]:
    """The tutorials: ``notebooks/NN-*.ipynb``, in order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


def find_graphviz_pure() -> str:
    """The graphviz-pure executable of this Python (a kernel may not have it on PATH)."""
    for folder in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        found = shutil.which(RENDERER, path=folder)
        if found:
            return found
    found = shutil.which(RENDERER)
    if found is None:
        raise SystemExit(f"{RENDERER} not found: pip install graphviz-pure")
    return found


def execute(path: Path, timeout: int = 120) -> float:
    """Execute one notebook in place; returns the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
        record_timing=False,
    )
    started = time.monotonic()
    client.execute()
    took = time.monotonic() - started
    nbformat.write(notebook, path)
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every tutorial")
    args = parser.parse_args(argv)
    os.environ["WFKIT_DOT"] = find_graphviz_pure()
    for path in args.notebooks or tutorials():
        took = execute(path.resolve())
        print(f"executed {path.name} in {took:.1f} s")
    print(REGENERATE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
