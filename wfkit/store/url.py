"""Open a store from a URL: ``sqlite:///path.db``, ``sqlite:///:memory:``, ``postgresql://...``.

The scheme picks a backend from one small table, :data:`BACKENDS` (scheme -> opener), so a
new backend is one entry. The forms accepted:

========================================  ==========================================
``sqlite:///relative/path.db``            a file relative to the working directory
``sqlite:////absolute/path.db``           an absolute path (four slashes)
``sqlite:///:memory:``                    a private in-memory database
``sqlite:///path.db?synchronous=full``    fsync every commit: survives power loss
``path/to/file.db``                       a bare path ending in ``.db``
``postgresql://user:pw@host/db``          a PostgreSQL database (``postgres://`` too)
========================================  ==========================================

A PostgreSQL URL is libpq's (``?host=/socket/dir``, ``?sslmode=require``, and
``?options=-csearch_path%3Dmyschema`` to keep the store's tables in a schema of their
own); it needs the ``postgres`` extra: ``pip install 'wfkit[postgres]'``.

A SQLite URL takes one option, ``synchronous``: ``normal`` (the default: a commit
survives a crash of the process, but the last ones may be lost on power loss) or ``full``
(every commit is fsynced: it survives power loss too, at about 150-200 µs more a commit
on a typical SSD; see ``benchmarks/postgres.py``). PostgreSQL fsyncs every commit by
default (its ``synchronous_commit``, which a libpq ``?options=-csynchronous_commit%3Doff``
turns off).

Parent folders of a SQLite file are created, unless the store is opened with
``create=False`` (readers), where a missing file is an error. Errors name the URL with any password
replaced by ``***``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal
from urllib.parse import parse_qs

from wfkit.engine.protocols import Store
from wfkit.errors import StoreError
from wfkit.store.sqlite import SqliteStore

__all__ = ["BACKENDS", "DEFAULT_STORE_URL", "SUPPORTED", "open_store", "redact"]

DEFAULT_STORE_URL = "sqlite:///.wfkit/wfkit.db"
"""Where a store lives unless told otherwise: a file under ``.wfkit`` in the working folder."""

SUPPORTED = (
    "sqlite:///relative/path.db, sqlite:////absolute/path.db, sqlite:///:memory:, "
    "postgresql://user:password@host:5432/database"
)
"""The URL forms this installation can open, for error messages."""

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.DOTALL)
_PASSWORD_OPTION = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def _open_sqlite(url: str, rest: str, create: bool) -> Store:
    """``rest`` is what follows ``sqlite://``: an empty host, then ``/`` and the path."""
    if not rest.startswith("/"):
        raise StoreError(
            url,
            "a SQLite URL has no host: write sqlite:///relative/path.db (three slashes) "
            "or sqlite:////absolute/path.db (four)",
        )
    path = rest[1:]
    if not path:
        raise StoreError(url, "the SQLite URL names no file; e.g. sqlite:///.wfkit/wfkit.db")
    path, _, query = path.partition("?")
    synchronous = _sqlite_synchronous(url, query)
    return SqliteStore(path, create=create, synchronous=synchronous)


_SYNCHRONOUS: dict[str, Literal["normal", "full"]] = {"normal": "normal", "full": "full"}


def _sqlite_synchronous(url: str, query: str) -> Literal["normal", "full"]:
    """The ``synchronous`` option of a SQLite URL's query (``normal`` when absent)."""
    options = parse_qs(query, keep_blank_values=True) if query else {}
    unknown = sorted(set(options) - {"synchronous"})
    if unknown:
        raise StoreError(
            url,
            f"unknown SQLite store option {unknown[0][:40]!r}: the only option is "
            "synchronous=normal|full (e.g. sqlite:///.wfkit/wfkit.db?synchronous=full)",
        )
    if not options:
        return "normal"
    value = options["synchronous"][-1].lower()
    if value not in _SYNCHRONOUS:
        raise StoreError(
            url,
            f"synchronous={value[:20]!r} is not a choice: use synchronous=normal (the "
            "default) or synchronous=full (fsync every commit: survives power loss)",
        )
    return _SYNCHRONOUS[value]


_POSTGRES_DRIVERS = ("psycopg", "psycopg_pool", "psycopg_binary", "psycopg_c")


def _open_postgres(url: str, rest: str, create: bool) -> Store:
    """``rest`` is what follows ``postgresql://`` (or ``postgres://``): libpq's URL."""
    try:
        from wfkit.store.postgres import PostgresStore
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in _POSTGRES_DRIVERS:
            raise
        raise StoreError(
            url,
            f"a PostgreSQL store needs psycopg 3 and psycopg_pool, which are not installed "
            f"({exc.name} is missing): pip install 'wfkit[postgres]'",
        ) from exc
    return PostgresStore(f"postgresql://{rest}", shown=url, create=create)


BACKENDS: dict[str, Callable[[str, str, bool], Store]] = {
    "sqlite": _open_sqlite,
    "postgresql": _open_postgres,
    "postgres": _open_postgres,
}
"""Scheme -> opener, called with the redacted URL (for errors), what follows ``://`` and
whether to create the store when it does not exist."""


def open_store(url: str, *, create: bool = True) -> Store:
    """Open the store that ``url`` names, creating it if needed unless ``create`` is
    False (for readers: a mistyped path then fails instead of making a new, empty store).

    Raises :class:`StoreError` for a scheme no backend handles (listing the supported
    forms) and when the backend cannot open the store.
    """
    shown = redact(url)
    match = _SCHEME.match(url)
    if match is None:
        if url.endswith(".db"):
            return SqliteStore(url, create=create)
        raise StoreError(shown, f"not a store URL; use one of: {SUPPORTED}")
    scheme, rest = match.group(1).lower(), match.group(2)
    opener = BACKENDS.get(scheme)
    if opener is None:
        raise StoreError(shown, f"unsupported store scheme {scheme!r}; use one of: {SUPPORTED}")
    return opener(shown, rest, create)


def redact(url: str) -> str:
    """``url`` with passwords replaced by ``***``: the one of a ``user:password@`` part
    and any ``password=`` option."""
    url = _PASSWORD_OPTION.sub(r"\1***", url)
    match = _SCHEME.match(url)
    if match is None:
        return url
    scheme, rest = match.groups()
    userinfo, at, host = rest.rpartition("@")
    if not at or not userinfo or rest.startswith("/"):
        return url
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"
