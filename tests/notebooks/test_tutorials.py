"""The tutorial notebooks are committed in the shape nbval needs to check them.

nbval (run by ``python -m pytest``, see ``[tool.pytest.ini_options]``) executes every
``notebooks/NN-*.ipynb`` and compares each cell's outputs with the committed ones, after
``notebooks/sanitize.cfg``. It silently compares nothing in a cell that was never
executed, so these tests check what nbval cannot: that the tutorials were committed
executed, top to bottom, with errors only where a cell says it raises one, and that they
follow the conventions that keep them stable and harmless (a scratch store, closed at
the end; widget state flushed). When one fails after editing a tutorial, run
``python tests/notebooks/execute_tutorials.py``, then ``python -m docs._gen`` (the
tutorials' docs pages are made from their saved outputs), and commit the result.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SANITIZE = NOTEBOOKS / "sanitize.cfg"
TUTORIALS = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
FIX = (
    "run `python tests/notebooks/execute_tutorials.py`, then `python -m docs._gen`, and "
    "commit the notebooks and the pages"
)

pytestmark = pytest.mark.skipif(
    not NOTEBOOKS.is_dir(), reason="no notebooks/ folder here (an sdist without it)"
)


def _code_cells(path: Path) -> list[nbformat.NotebookNode]:
    notebook = nbformat.read(path, as_version=4)
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.metadata.get("tags", []))


def _raised(cell: nbformat.NotebookNode) -> bool:
    """An error output, or IPython's UsageError (printed to stderr, no error output)."""
    for output in cell.outputs:
        if output.output_type == "error":
            return True
        if output.output_type == "stream" and output.text.startswith("UsageError:"):
            return True
    return False


def test_there_are_tutorials() -> None:
    assert len(TUTORIALS) >= 4, [p.name for p in TUTORIALS]
    numbers = [p.name[:2] for p in TUTORIALS]
    assert len(numbers) == len(set(numbers)), f"two tutorials share a number: {numbers}"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_committed_executed_in_order(path: Path) -> None:
    counts = [cell.execution_count for cell in _code_cells(path)]
    assert None not in counts, f"{path.name} has cells that were never executed: {FIX}"
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name} was not executed top to bottom in one kernel ({counts}): {FIX}"
    )


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_errors_only_where_tagged(path: Path) -> None:
    for index, cell in enumerate(_code_cells(path)):
        tagged = "raises-exception" in _tags(cell)
        where = f"{path.name}, code cell {index} ({cell.source.splitlines()[0]!r})"
        if tagged:
            assert _raised(cell), f"{where} is tagged raises-exception but raised nothing"
        else:
            assert not _raised(cell), f"{where} raised an error: tag it or fix it, then {FIX}"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_scratch_store_closed_and_widgets_flushed(path: Path) -> None:
    cells = _code_cells(path)
    source = "\n".join(cell.source for cell in cells)
    assert 'tempfile.mkdtemp(prefix="wfkit-tutorial-")' in source, (
        f"{path.name} must work in a scratch folder named like the sanitize file expects"
    )
    opens = re.findall(r"wfkit\.open\([^)]*\)", source)
    assert opens and all("store=" in call for call in opens), (
        f"{path.name} must open its runtime on a store in its scratch folder: {opens}"
    )
    last = cells[-1].source
    assert ".close()" in last and "shutil.rmtree(scratch)" in last, (
        f"{path.name} must close its runtime and delete its scratch folder in its last cell"
    )
    if ".widget()" in source:
        assert ".flush()" in last, (
            f"{path.name} shows a widget: call its flush() in the last cell, so that "
            "nbclient saves the widget's final state"
        )


def test_sanitize_file_is_used_and_valid() -> None:
    pairs = re.findall(r"^regex: (.*)$\n^replace: (.*)$", SANITIZE.read_text(), re.MULTILINE)
    assert pairs
    for regex, _ in pairs:
        re.compile(regex)
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    addopts = options["ini_options"]["addopts"]
    assert "--nbval" in addopts.split()
    assert f"--nbval-sanitize-with {SANITIZE.relative_to(ROOT).as_posix()}" in addopts
    assert "notebooks" in options["ini_options"]["testpaths"]
