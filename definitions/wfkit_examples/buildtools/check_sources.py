"""Build step: list the files to package and check the Python sources.

Env: ``SOURCE_DIR`` (the folder to package), ``MAX_LINE_LENGTH`` (JSON integer, default
100). Syntax errors stop the build; lines over the limit are only reported as warnings.
Output: ``files`` (every file to package, relative POSIX paths, sorted), ``python_files``,
``lines``, ``warnings``.
"""

import ast
from pathlib import Path
from typing import Any

from wfkit_examples.buildtools._step import StepFailed, env_json, env_path, run, write_output

__all__ = ["SKIPPED_DIRS", "SKIPPED_SUFFIXES", "check", "main", "package_files"]

#: Folders never packaged.
SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
#: File suffixes never packaged.
SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo", ".partial"})


def package_files(root: Path) -> list[str]:
    """Files under ``root`` worth packaging, as sorted relative POSIX paths.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = Path(tmp)
    ...     for name in ("a.py", "b/c.txt", "__pycache__/a.pyc", ".hidden/x.py"):
    ...         (root / name).parent.mkdir(parents=True, exist_ok=True)
    ...         _ = (root / name).write_text("x")
    ...     print(package_files(root))
    ['a.py', 'b/c.txt']
    """
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if not path.is_file() or path.suffix in SKIPPED_SUFFIXES:
            continue
        if any(part in SKIPPED_DIRS or part.startswith(".") for part in rel.parts):
            continue
        found.append(rel.as_posix())
    return sorted(found)


def check(root: Path, max_line_length: int) -> dict[str, Any]:
    """Check every Python file under ``root``; raise StepFailed listing syntax errors."""
    if not root.is_dir():
        raise StepFailed(f"SOURCE_DIR {root} is not a folder")
    files = package_files(root)
    python = [f for f in files if f.endswith(".py")]
    if not python:
        raise StepFailed(f"no Python files under {root}")
    errors, warnings, lines = [], [], 0
    for rel in python:
        text = (root / rel).read_text(encoding="utf-8")
        try:
            ast.parse(text, filename=rel)
        except SyntaxError as exc:
            errors.append(f"{rel}:{exc.lineno}:{exc.offset}: {exc.msg}")
        for number, line in enumerate(text.splitlines(), start=1):
            lines += 1
            if len(line) > max_line_length:
                warnings.append(f"{rel}:{number}: {len(line)} > {max_line_length} characters")
    if errors:
        raise StepFailed("syntax errors:\n  " + "\n  ".join(errors))
    return {
        "source_dir": str(root),
        "files": files,
        "python_files": python,
        "lines": lines,
        "warnings": warnings,
    }


def main() -> None:
    """Run the check with the settings from the environment."""
    write_output(check(env_path("SOURCE_DIR"), int(env_json("MAX_LINE_LENGTH", 100))))


if __name__ == "__main__":
    run(main)
