"""The PostgreSQL store, for engines on several machines: ``postgresql://...`` URLs.

Needs the ``postgres`` extra (``pip install 'wfkit[postgres]'``: psycopg 3 and
psycopg_pool); :func:`wfkit.store.open_store` says so when it is missing. Small modules,
one job each: ``store`` (the :class:`PostgresStore` class), ``_connections`` (the pool
and transactions), ``_schema`` (tables, migrations), ``_rows`` (rows and fenced
appends), ``_claims`` (claims and leases on the database's clock), ``_changes``
(``LISTEN``/``NOTIFY``) and ``_space`` (purge walks, VACUUM, sizes).
"""

from wfkit.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
