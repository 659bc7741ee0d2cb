"""Shared set-up of the example tests: the definitions folder is importable.

``definitions/`` goes on ``sys.path`` (as it is for ``call:`` steps), and so does this
folder, for the test helpers of :mod:`example_harness`.
"""

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DEFINITIONS = HERE.parents[1] / "definitions"

for _path in (DEFINITIONS, HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from collections.abc import Iterator  # noqa: E402

from example_harness import Harness, close_all  # noqa: E402


@pytest.fixture
def definitions_dir() -> Path:
    """The folder of the example definitions."""
    return DEFINITIONS


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory, also the current one, so nothing lands in the repo."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def harness(workdir: Path) -> Harness:
    """Runs definitions through the real engine, in ``workdir``."""
    return Harness(workdir)


@pytest.fixture(autouse=True)
def _close_harnesses() -> Iterator[None]:
    """Stop the engine of every harness a test made."""
    yield
    close_all()
