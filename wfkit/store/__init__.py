"""Stores: where instances, their histories and definitions are kept.

Implementations of :class:`wfkit.engine.protocols.Store`. :func:`open_store` opens one
from a URL (default :data:`DEFAULT_STORE_URL`, a SQLite file under ``.wfkit``);
:class:`SqliteStore` is the SQLite backend, for the threads and processes of one host;
:mod:`wfkit.store.postgres` the PostgreSQL one, for several machines (imported only
when a ``postgresql://`` URL is opened: it needs the ``postgres`` extra).
"""

from wfkit.engine.liveness import process_is_gone
from wfkit.store.sqlite import SqliteStore
from wfkit.store.url import DEFAULT_STORE_URL, open_store, redact

__all__ = ["DEFAULT_STORE_URL", "SqliteStore", "open_store", "process_is_gone", "redact"]
