"""Fixtures more than one test folder uses: a PostgreSQL server for the session.

``postgres_server`` is the server ``WFKIT_TEST_POSTGRES_URL`` names when it is set,
otherwise a throw-away server started from the ``pgserver`` wheel (PostgreSQL 16, about
3 s, deleted at the end); ``postgres_url`` gives each test a schema of its own on it,
dropped after. A missing server or wheel fails the tests, never skips them.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server (its maintenance database) for this test session."""
    given = os.environ.get("WFKIT_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    import pgserver  # the dev extra's throw-away server

    with tempfile.TemporaryDirectory(prefix="wfkit-pg-") as folder:
        server = pgserver.get_server(folder, cleanup_mode="delete")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


def with_schema(url: str, schema: str) -> str:
    """``url`` with the store's tables put in ``schema`` (libpq's ``options``)."""
    option = quote(f"-csearch_path={schema}", safe="")
    return f"{url}{'&' if '?' in url else '?'}options={option}"


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL of the session's server whose store lives in a new, empty schema."""
    schema = f"wfkit_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(postgres_server, schema)
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
