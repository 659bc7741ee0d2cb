"""What SQLite's errors about the store's file mean, said for a person: read-only, damaged.

SQLite reports a read-only folder as "unable to open database file" and a bit-flipped
file as "file is not a database", or, when the damage lands in the schema's text, with a
message that is not UTF-8 itself (Python raises ``UnicodeDecodeError`` instead of a
``sqlite3.Error``). :func:`explain` turns these into what happened and what to do.
"""

from __future__ import annotations

import os
import sqlite3

__all__ = ["explain", "is_damage"]

_READONLY, _CORRUPT, _CANTOPEN, _NOTADB = 8, 11, 14, 26
_DAMAGE_WORDS = ("malformed database schema", "unsupported file format", "file is not a database")


def is_damage(exc: BaseException) -> bool:
    """Whether ``exc`` says the file is not a SQLite database or is damaged."""
    if isinstance(exc, UnicodeDecodeError):  # SQLite's message quoted damaged bytes
        return True
    if not isinstance(exc, sqlite3.Error):
        return False
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    return code in (_CORRUPT, _NOTADB) or any(w in str(exc) for w in _DAMAGE_WORDS)


def explain(exc: BaseException, path: str) -> str | None:
    """What an error opening or using the SQLite file ``path`` means, with the likely
    fix; None when it is none of read-only, cannot open or damaged."""
    if is_damage(exc):
        return _damaged(exc, path)
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code not in (_READONLY, _CANTOPEN) or path == ":memory:":
        return None
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return (
            f"the store file {path} is read-only ({exc}): wfkit writes to its store. Make "
            f"it writable (chmod u+w; chattr -i if it is immutable; or remount its file "
            "system read-write), or copy it somewhere writable and use that copy"
        )
    if not os.access(folder, os.W_OK):
        name = os.path.basename(path)
        needs = f"{name}-wal and {name}-shm beside the store file (WAL mode)"
        if not os.path.exists(path):
            needs = f"the store file {name} there, and {needs}"
        return (
            f"the folder {folder} is read-only ({exc}): SQLite needs to create {needs}. Make "
            "the folder writable (chmod u+w; chattr -i if it is immutable; or remount its "
            "file system read-write), or put the store in a writable folder"
        )
    return None


def _damaged(exc: BaseException, path: str) -> str:
    said = str(exc)
    if isinstance(exc, UnicodeDecodeError):
        said = exc.object.decode("utf-8", errors="replace") if exc.object else said
    said = said if len(said) <= 120 else said[:117] + "..."
    return (
        f"{path} is not a SQLite database, or it is damaged (SQLite says: {said}). If it is "
        "a wfkit store, restore it from a backup (its instances cannot be read as it "
        "is); if it is another program's file, use another path for the store"
    )
