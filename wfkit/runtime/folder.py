"""The definitions a runtime starts workflows from: its folder, followed as it is edited.

A notebook user edits a YAML file beside the notebook and runs the cell that starts the
workflow again; they expect the edit to count, without a ``reload()``. So the folder's
files are looked at again (names, sizes, modification times: a few ``stat`` calls) when
the catalog is used, at most once per ``check_interval`` seconds, and read again when
they changed. Running instances are unaffected: each keeps the definition text it
started with. Definitions added from a notebook cell (:meth:`DefinitionsFolder.add`) stay
on top of whatever the folder holds.

Files with problems are set aside with a warning (see :func:`wfkit.load_catalog` with
``strict=False``), logged once for each new set of problems.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from wfkit.definition.model import Definition
from wfkit.errors import DefinitionError, Problem
from wfkit.graph import Catalog, load_catalog
from wfkit.graph.catalog import definition_files

__all__ = ["DefinitionsFolder"]

_log = logging.getLogger("wfkit.runtime")

_Stamp = tuple[tuple[str, int, int], ...]


class DefinitionsFolder:
    """The catalog of a definitions folder, read again when its files change."""

    def __init__(self, folder: str, *, check_interval: float = 1.0) -> None:
        self.folder = folder
        self.check_interval = check_interval
        self._added: dict[str, Definition] = {}
        self._catalog: Catalog | None = None
        self._stamp: _Stamp | None = None
        self._checked_at = 0.0
        self._warned: list[Problem] = []
        self._lock = threading.Lock()

    @property
    def catalog(self) -> Catalog:
        """The current catalog: read now if never read, or if the files changed."""
        catalog = self._catalog
        if catalog is not None and time.monotonic() < self._checked_at + self.check_interval:
            return catalog
        with self._lock:
            stamp = self._files_stamp()
            if self._catalog is None or stamp != self._stamp:
                return self._read(stamp)
            self._checked_at = time.monotonic()
            return self._catalog

    def reload(self) -> Catalog:
        """Read the folder again now, changed or not."""
        with self._lock:
            return self._read(self._files_stamp())

    def add(self, definition: Definition) -> None:
        """Add a definition made in this session; raises :class:`DefinitionError` when its
        child workflows do not resolve. It stays when the folder is read again."""
        with self._lock:  # one critical section: a concurrent re-read cannot slip between
            catalog = self._catalog or self._read(self._files_stamp())
            self._catalog = catalog.adding(definition)
            self._added[definition.name] = definition

    def _files_stamp(self) -> _Stamp | None:
        folder = Path(self.folder)
        if not folder.is_dir():
            return None
        stamp = []
        for path in definition_files([folder]):
            try:
                info = path.stat()
            except OSError:  # deleted meanwhile: the next look sees it gone
                continue
            stamp.append((path.name, info.st_mtime_ns, info.st_size))
        return tuple(stamp)

    def _read(self, stamp: _Stamp | None) -> Catalog:
        """Read the folder (called with the lock held); the new catalog."""
        catalog = Catalog() if stamp is None else load_catalog(self.folder, strict=False)
        self._warn(catalog.problems)
        for name, definition in list(self._added.items()):
            try:
                catalog = catalog.adding(definition)
            except DefinitionError as exc:  # its child workflow went away from the folder
                del self._added[name]
                _log.warning(
                    "workflow %r, added in this session, was dropped:\n%s",
                    name,
                    "\n".join(f"  {problem}" for problem in exc.problems),
                )
        self._catalog = catalog
        self._stamp = stamp
        self._checked_at = time.monotonic()
        return catalog

    def _warn(self, problems: list[Problem]) -> None:
        if problems and problems != self._warned:
            files = sorted({p.path for p in problems})
            _log.warning(
                "%d definition file(s) have problems; the workflows in them cannot start "
                "until they are fixed (the others can):\n%s",
                len(files),
                "\n".join(f"  {problem}" for problem in problems),
            )
        self._warned = list(problems)
