"""``tutorials.md``: the tutorial notebooks in ``notebooks/``, and those still planned.

A planned tutorial counts as written when ``notebooks/`` holds a notebook whose name
starts with its two-digit number followed by ``-`` or ``_`` (``01-quickstart.ipynb``);
the page then shows the notebook's first Markdown heading as its title. Notebooks that
match no plan are listed too. Adding, renaming or removing a notebook therefore changes
this page: run ``python -m docs._gen`` afterwards.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from docs._gen._common import ROOT, banner, code, table

OUTPUT = "tutorials.md"
NOTEBOOKS = ROOT / "notebooks"

#: The planned tutorials, in reading order: (number, topic, what it covers).
PLANNED: tuple[tuple[int, str, str], ...] = (
    (1, "Quickstart", "Load a definition, draw it, run it, read its steps and output."),
    (
        2,
        "Pause, resume, step and breakpoints",
        "Suspend a run between steps, resume it, "
        "single-step it, and stop at `pause_before` breakpoints.",
    ),
    (3, "Human in the loop", "A `wait` step, an event raised by a person, timeouts."),
    (
        4,
        "Failures and retries",
        "`retry`, `on_error`, `finally`, `raise_if_failed`, and running a failed id again.",
    ),
    (
        5,
        "Fan-out, conditions and child workflows",
        "`foreach` with `max_parallel`, `when`, and `workflow` steps.",
    ),
    (
        6,
        "Durability across a killed process",
        "Kill the process running a workflow mid-run and watch the next engine take it "
        "over and carry on from the history.",
    ),
    (7, "Notebook steps", "Run a parameterised notebook as a step and read its result."),
)


def _title(path: Path) -> str:
    """The notebook's first Markdown heading, or its file name."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return path.stem
    for cell in data.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        for line in text.splitlines():
            match = re.match(r"#+\s+(.+)", line.strip())
            if match:
                return match.group(1).strip()
    return path.stem


def _notebooks() -> list[Path]:
    if not NOTEBOOKS.is_dir():
        return []
    return sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _number(path: Path) -> int | None:
    match = re.match(r"(\d{2})[-_]", path.name)
    return int(match.group(1)) if match else None


def render() -> str:
    """The page."""
    notebooks = _notebooks()
    by_number: dict[int, Path] = {}
    for path in notebooks:
        number = _number(path)
        if number is not None and number not in by_number:
            by_number[number] = path
    rows = []
    for number, topic, covers in PLANNED:
        found = by_number.get(number)
        if found is None:
            rows.append([f"{number}", topic, covers, "**planned, not yet written**"])
        else:
            where = code(found.relative_to(ROOT).as_posix())
            rows.append([f"{number}", _title(found), covers, where])
    matched = {by_number[n] for n, _, _ in PLANNED if n in by_number}
    others = [p for p in notebooks if p not in matched]
    written = sum(1 for n, _, _ in PLANNED if n in by_number)
    parts = [
        banner("the contents of `notebooks/` (see `docs/_gen/tutorials.py`)"),
        "# Tutorials\n",
        "The tutorials are Jupyter notebooks in the `notebooks/` folder of the repository. "
        "Each one runs offline, with its own definitions in `notebooks/definitions/` and "
        "its state in a scratch SQLite file that it removes at the end.\n",
        "To run them, install wfkit with the `jupyter` extra (the kernel, widgets and "
        "notebook runner) and a Jupyter front end of your choice, then start it from the "
        "repository root:\n",
        "```sh\npip install -e '.[jupyter]' jupyterlab\njupyter lab notebooks/\n```\n",
        f"{written} of the {len(PLANNED)} planned tutorials are written so far.\n",
        table(("#", "tutorial", "what it covers", "notebook"), rows),
    ]
    if others:
        parts += [
            "## Other notebooks\n",
            table(
                ("notebook", "title"),
                [[code(p.relative_to(ROOT).as_posix()), _title(p)] for p in others],
            ),
        ]
    if written < len(PLANNED):
        parts.append(
            "Until a tutorial is written, the [getting started](getting-started.md) page "
            "and the [concepts](concepts/definitions.md) pages cover the same ground.\n"
        )
    return "\n".join(parts)
