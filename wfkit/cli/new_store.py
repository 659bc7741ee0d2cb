"""A store a command would create, removed again when the command stores nothing.

``wfkit run typo`` or ``wfkit start`` with a bad input used to leave an empty
``.wfkit/wfkit.db`` behind (in a folder that may not even hold definitions): the store was
made before the workflow was looked up. Commands that may create a store note what does
not exist yet (:class:`NewStore`) and :meth:`~NewStore.discard` it when they fail before
storing an instance. Only a SQLite file is ever removed, and only one that did not exist
when the command began.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

__all__ = ["NewStore"]

_SIDE_FILES = ("-wal", "-shm", "-journal")


class NewStore:
    """The SQLite file of the store ``args`` name, and the folders above it, that do not
    exist yet (nothing when the store exists or is not a SQLite file)."""

    def __init__(self, args: argparse.Namespace) -> None:
        from wfkit.runtime.settings import Settings

        url = Settings.from_environment(definitions=args.definitions, store=args.store).store
        file = _sqlite_file(url)
        self.paths: list[Path] = []
        if file is not None:
            for path in (file, *file.parents):
                if path.exists():
                    break
                self.paths.append(path)

    @property
    def missing(self) -> bool:
        """Whether the store does not exist yet (so this command would create it)."""
        return bool(self.paths)

    def discard(self) -> None:
        """Remove the store file (with its -wal and -shm files) and the folders made for
        it, when they are empty; call it after the store is closed."""
        if not self.paths:
            return
        file, *folders = self.paths
        for suffix in ("", *_SIDE_FILES):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{file}{suffix}").unlink()
        for folder in folders:  # the deepest first
            with contextlib.suppress(OSError):  # not empty: someone else uses it
                folder.rmdir()


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite store URL (``sqlite:///path`` or a bare ``path.db``)."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
    elif "://" not in url and url.endswith(".db"):
        path = url
    else:
        return None
    return None if path in ("", ":memory:") or "?" in path else Path(path)
