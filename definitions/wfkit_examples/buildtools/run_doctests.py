"""Build step: run the doctests of the Python files being packaged.

Env: ``SOURCE_DIR``, ``FILES`` (JSON list of relative ``.py`` paths). A folder with an
``__init__.py`` is imported as a package (so absolute imports inside it work); any other
folder's files are imported as top-level modules. Any failing example stops the build.
Output: ``modules``, ``attempted``, ``failed``.
"""

import doctest
import importlib
import sys
from pathlib import Path
from typing import Any

from wfkit_examples.buildtools._step import StepFailed, env_json, env_path, run, write_output

__all__ = ["main", "module_name", "run_doctests"]


def module_name(root: Path, rel: str) -> str:
    """The import name of file ``rel`` under ``root``.

    >>> module_name(Path("/src/plain"), "tools/cli.py")
    'tools.cli'
    """
    parts = list(Path(rel).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if (root / "__init__.py").exists():
        parts.insert(0, root.name)
    return ".".join(parts) or root.name


def run_doctests(root: Path, files: list[str]) -> dict[str, Any]:
    """Import each file's module and run its doctests; raise StepFailed on any failure."""
    base = root.parent if (root / "__init__.py").exists() else root
    sys.path.insert(0, str(base))
    attempted = failed = 0
    failing = []
    for rel in files:
        if not rel.endswith(".py"):
            continue
        name = module_name(root, rel)
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            raise StepFailed(f"cannot import {name} from {rel}: {exc!r}") from None
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        attempted += result.attempted
        failed += result.failed
        if result.failed:
            failing.append(name)
    if failed:
        raise StepFailed(f"{failed} of {attempted} doctests failed in {', '.join(failing)}")
    return {
        "modules": len([f for f in files if f.endswith(".py")]),
        "attempted": attempted,
        "failed": failed,
    }


def main() -> None:
    """Run the doctests named by the environment."""
    write_output(run_doctests(env_path("SOURCE_DIR"), env_json("FILES")))


if __name__ == "__main__":
    run(main)
