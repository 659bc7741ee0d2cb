"""A store file wfkit cannot use says why, in words, through Python and the command line.

A read-only folder was reported as "unable to open database file (is it a damaged
file...?)", a read-only file as "attempt to write a readonly database", and damage in
the schema's text as a raw UnicodeDecodeError (SQLite's message quoted the bad bytes).

Read-only is made for real: as root, permission bits are ignored, so the file or folder
is made immutable (``chattr +i``, undone after the test); as another user, ``chmod``.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import wfkit
from wfkit.errors import StoreError
from wfkit.store import SqliteStore

DEFINITION = 'wfkit: 1\nname: noop\nsteps:\n  a: {call: "json:dumps", with: {obj: 1}}\n'
DAMAGED = "is not a SQLite database, or it is damaged"


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` (a file or a folder) read-only for this process, for real, then back."""
    if os.geteuid() == 0:  # root ignores permission bits, but not the immutable flag
        made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        assert made.returncode == 0, f"chattr +i failed (needed as root): {made.stderr}"
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        try:
            yield
        finally:
            path.chmod(mode)
    assert os.access(path, os.W_OK)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A definitions folder beside ``state/``, which holds a store with one instance."""
    (tmp_path / "definitions").mkdir()
    (tmp_path / "definitions" / "noop.yaml").write_text(DEFINITION)
    with wfkit.open(definitions=str(tmp_path / "definitions"), store=_url(tmp_path)) as rt:
        assert rt.run("noop", instance_id="first", timeout=30).status == "COMPLETED"
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["wfkit.db"]  # no -wal
    return tmp_path


def _url(root: Path, name: str = "wfkit.db") -> str:
    return f"sqlite:///{root / 'state' / name}"


def _start(root: Path) -> None:
    with wfkit.open(definitions=str(root / "definitions"), store=_url(root)) as rt:
        rt.start("noop")


def _cli(root: Path, *words: str, name: str = "wfkit.db") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfkit", *words, "--store", _url(root, name),
         "--definitions", str(root / "definitions")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _fails_clearly(done: subprocess.CompletedProcess[str], command: str, says: str) -> None:
    assert done.returncode == 1, (done.returncode, done.stderr[-800:])
    assert "Traceback" not in done.stderr, done.stderr[-800:]
    assert done.stderr.startswith(f"wfkit {command}: store sqlite:///"), done.stderr
    assert says in done.stderr, done.stderr


def test_a_read_only_store_file_says_so_and_what_to_do(folder: Path) -> None:
    db = folder / "state" / "wfkit.db"
    with read_only(db):
        with wfkit.open(definitions=str(folder / "definitions"), store=_url(folder)) as rt:
            assert rt.instance("first").status == "COMPLETED"  # reading still works
            with pytest.raises(StoreError) as caught:
                rt.start("noop")
        message = str(caught.value)
        assert f"the store file {db} is read-only" in message
        assert "chmod u+w" in message and "chattr -i" in message and "damaged" not in message
        _fails_clearly(_cli(folder, "start", "noop"), "start", f"the store file {db} is read-only")


def test_a_read_only_store_folder_says_sqlite_needs_to_create_files_there(folder: Path) -> None:
    state = folder / "state"
    with read_only(state):
        with pytest.raises(StoreError) as caught:
            SqliteStore(state / "wfkit.db")
        message = str(caught.value)
        assert f"the folder {state} is read-only" in message
        assert "wfkit.db-wal and wfkit.db-shm" in message and "damaged" not in message
        with pytest.raises(StoreError, match=f"the folder {re.escape(str(state))} is read-only"):
            _start(folder)
        _fails_clearly(_cli(folder, "list"), "list", f"the folder {state} is read-only")
        created = _cli(folder, "start", "noop", name="new.db")
        _fails_clearly(created, "start", "create the store file new.db there")


def _flip_header(data: bytearray) -> None:
    data[3] ^= 0x04  # "SQLite format 3\0" -> "SQLate format 3\0"


def _flip_schema_text(data: bytearray) -> None:
    # the first letter of an index's column list: SQLite's error then quotes bytes that
    # are not UTF-8 (a raw UnicodeDecodeError before)
    found = re.search(rb"CREATE INDEX \w+ ON \w+ \(([a-z])", data)
    assert found is not None
    data[found.start(1)] ^= 0x80


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        ("a bit flipped in the header", "file is not a database"),
        ("a bit flipped in the schema's text", "malformed database schema"),
        ("a text file", "file is not a database"),
        ("a truncated file", "database disk image is malformed"),
    ],
)
def test_a_damaged_or_foreign_file_says_it_is_not_a_sqlite_database(
    folder: Path, damage: str, says: str
) -> None:
    db = folder / "state" / "wfkit.db"
    data = bytearray(db.read_bytes())
    if damage == "a text file":
        data = bytearray(b"name,score\nada,0.93\n" * 50)
    elif damage == "a truncated file":
        data = data[:1000]
    else:
        (_flip_header if "header" in damage else _flip_schema_text)(data)
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError) as caught:
        SqliteStore(db)
    message = str(caught.value)
    assert f"{db} {DAMAGED} (SQLite says: {says}" in message, message
    assert "restore it from a backup" in message
    with pytest.raises(StoreError, match=DAMAGED):
        _start(folder)
    for command in ("list", "get"):
        words = [command, "first"] if command == "get" else [command]
        _fails_clearly(_cli(folder, *words), command, DAMAGED)
    assert db.read_bytes() == bytes(data)  # left as it was found, for recovery
