"""What only the SQLite store promises: several processes on one file, WAL, the busy
timeout, schema migrations, files that are not stores, and opening stores from URLs."""

from __future__ import annotations

import contextlib
import gc
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from wfkit.engine.protocols import EventRow, InstanceRow, InstanceUpdate
from wfkit.errors import StoreError
from wfkit.store import DEFAULT_STORE_URL, SqliteStore, open_store, redact
from wfkit.store._sqlite_schema import MIGRATIONS, SCHEMA_VERSION, migrate, schema_version

ROOT = Path(__file__).resolve().parents[2]


def _row(instance_id: str) -> InstanceRow:
    return InstanceRow(instance_id, "report", "RUNNING", 1.0, 1.0, "hash")


def _started() -> list[EventRow]:
    return [EventRow(0, "Started", 1.0, "{}")]


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# -- several processes ---------------------------------------------------------------------

APPENDER = """
    import os, sys, time
    from wfkit.engine.protocols import EventRow, InstanceUpdate
    from wfkit.errors import VersionConflict
    from wfkit.store import SqliteStore

    path, tag, go = sys.argv[1], sys.argv[2], sys.argv[3]
    store = SqliteStore(path)
    open(go + "." + tag, "w").close()  # ready
    while not os.path.exists(go):
        time.sleep(0.001)
    conflicts = 0
    for n in range(200):
        while True:
            version = store.versions(["shared"])["shared"]
            time.sleep(0.0005)  # widen the read-then-write window: races must happen
            try:
                store.append("shared", version, [EventRow(0, "E", 1.0, f'"{tag}{n}"')],
                             InstanceUpdate(custom_status=f'"{tag}{n}"'))
                break
            except VersionConflict:
                conflicts += 1
    store.close()
    print(conflicts)
"""


def test_two_processes_appending_lose_and_duplicate_no_event(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with SqliteStore(path) as store:
        store.create(_row("shared"), [])
    workers = _start_together(APPENDER, tmp_path, str(path))
    outputs = [worker.communicate(timeout=60) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert sum(int(out) for out, _err in outputs) > 0  # the processes did race
    with SqliteStore(path) as store:
        history = store.history("shared")
        assert [event.seq for event in history] == list(range(1, 401))
        expected = {f'"{tag}{n}"' for tag in "ab" for n in range(200)}
        assert {event.data for event in history} == expected
        assert store.versions(["shared"]) == {"shared": 400}


CLAIMER = """
    import os, sys, time
    from wfkit.engine.protocols import Owner
    from wfkit.store import SqliteStore

    path, tag, go = sys.argv[1], sys.argv[2], sys.argv[3]
    store = SqliteStore(path)
    open(go + "." + tag, "w").close()  # ready
    while not os.path.exists(go):
        time.sleep(0.001)
    owner = Owner(tag, "host-" + tag, os.getpid())
    while taken := store.claim(owner, 60, limit=1):
        print(taken[0], flush=True)
        time.sleep(0.001)  # some work: the other process claims meanwhile
    store.close()
"""


def _start_together(code: str, tmp_path: Path, *args: str) -> list[subprocess.Popen[str]]:
    """Two processes running ``code``; they open the store, wait for each other, go."""
    go = tmp_path / "go"
    workers = [_python(code, *args, tag, str(go)) for tag in ("a", "b")]
    deadline = time.monotonic() + 30
    while not all(Path(f"{go}.{tag}").exists() for tag in "ab"):  # both have opened it
        assert time.monotonic() < deadline and all(w.poll() is None for w in workers)
        time.sleep(0.005)
    go.touch()
    return workers


def test_two_processes_claiming_never_take_the_same_instance(tmp_path: Path) -> None:
    path = tmp_path / "claims.db"
    with SqliteStore(path) as store:
        for n in range(150):
            store.create(_row(f"i{n:03d}"), _started())
    workers = _start_together(CLAIMER, tmp_path, str(path))
    outputs = [worker.communicate(timeout=60) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    taken = [out.split() for out, _err in outputs]
    assert sorted(taken[0] + taken[1]) == [f"i{n:03d}" for n in range(150)]
    assert taken[0] and taken[1]  # both took part
    with SqliteStore(path) as store:
        owners = {row.owner for row in store.list_instances(limit=200)}
    assert owners == {"a", "b"}


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    with SqliteStore(path) as store:
        store.create(_row("a"), _started())
        assert (tmp_path / "wal.db-wal").exists()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


HOLDER = """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE instances SET custom_status = '\\"holder\\"'")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.execute("COMMIT")
"""


def test_a_writer_waits_for_another_process_transaction(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    with SqliteStore(path) as store:
        store.create(_row("a"), _started())
        holder = _python(HOLDER, str(path), "1.0")
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        began = time.monotonic()
        assert store.append("a", 1, _started(), InstanceUpdate(status="SUSPENDED")) == 2
        waited = time.monotonic() - began
        assert holder.wait(timeout=30) == 0
        assert waited > 0.5  # it did wait for the holder, and then succeeded
        found = store.get("a")
        assert found is not None and found.custom_status == '"holder"'


def test_a_writer_gives_up_with_a_store_error_after_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    with SqliteStore(path, timeout=0.2) as store:
        store.create(_row("a"), _started())
        holder = _python(HOLDER, str(path), "1.0")
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreError) as caught:
            store.append("a", 1, _started(), InstanceUpdate())
        holder.wait(timeout=30)
    assert "locked" in str(caught.value) and str(path) in str(caught.value)


EMPTY_FILE_HOLDER = """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")  # the write lock of a new file, still in rollback mode
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.execute("ROLLBACK")
"""


def _hold_new_file(path: Path, seconds: float) -> subprocess.Popen[str]:
    """A process holding the write lock of a new file for ``seconds``, once it has it."""
    holder = _python(EMPTY_FILE_HOLDER, str(path), str(seconds))
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_opening_a_new_file_waits_while_another_process_is_switching_it_to_wal(
    tmp_path: Path,
) -> None:
    # SQLite fails the switch to WAL at once ("database is locked") in this state, without
    # calling the busy handler; the store must wait like any other writer.
    path = tmp_path / "new.db"
    holder = _hold_new_file(path, 0.6)
    began = time.monotonic()
    with SqliteStore(path) as store:
        waited = time.monotonic() - began
        store.create(_row("a"), _started())
        assert store.get("a") is not None
    assert holder.wait(timeout=30) == 0
    assert waited > 0.3


def test_opening_gives_up_with_a_store_error_when_the_lock_outlasts_the_timeout(
    tmp_path: Path,
) -> None:
    path = tmp_path / "new.db"
    holder = _hold_new_file(path, 1.5)
    began = time.monotonic()
    with pytest.raises(StoreError) as caught:
        SqliteStore(path, timeout=0.3)
    waited = time.monotonic() - began
    holder.wait(timeout=30)
    message = str(caught.value)
    assert "locked" in message and str(path) in message and "more than 0.3 s" in message
    assert 0.2 < waited < 1.4


def test_many_threads_opening_one_new_file_together_all_succeed(tmp_path: Path) -> None:
    problems: list[str] = []

    def open_it(path: Path, go: threading.Barrier) -> None:
        go.wait()
        try:
            SqliteStore(path).close()
        except StoreError as exc:
            problems.append(str(exc))

    for round_no in range(30):
        path = tmp_path / f"new{round_no}.db"
        go = threading.Barrier(8)
        threads = [threading.Thread(target=open_it, args=(path, go)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert problems == []


def test_two_store_objects_on_one_file_see_each_other(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "x.db") as one, SqliteStore(tmp_path / "x.db") as two:
        one.create(_row("a"), _started())
        assert two.versions(["a"]) == {"a": 1}
        two.append("a", 1, _started(), InstanceUpdate())
        assert one.versions(["a"]) == {"a": 2}


def test_memory_stores_are_private_and_shared_connections_work_on_files(tmp_path: Path) -> None:
    with SqliteStore(":memory:") as one, SqliteStore(":memory:") as two:
        one.create(_row("a"), _started())
        assert two.get("a") is None
    with SqliteStore(tmp_path / "x.db", connections="shared") as shared:
        shared.create(_row("a"), _started())
        assert shared.append("a", 1, _started(), InstanceUpdate()) == 2
    with pytest.raises(StoreError, match="shared"):
        SqliteStore(":memory:", connections="thread")


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    for store in (SqliteStore(tmp_path / "x.db"), SqliteStore(":memory:")):
        store.close()
        with pytest.raises(StoreError, match="closed"):
            store.get("a")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "x.db")
    store.create(_row("a"), _started())
    pid = os.fork()
    if pid == 0:  # the child: append through the store object inherited from the parent
        code = 1
        try:
            store.append("a", 1, _started(), InstanceUpdate(custom_status='"child"'))
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.versions(["a"]) == {"a": 2}
    store.append("a", 2, _started(), InstanceUpdate())  # the parent's connection still works
    store.close()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_threads_that_end_leave_no_connection_open(tmp_path: Path) -> None:
    def open_files() -> int:
        links = []
        for fd in Path("/proc/self/fd").iterdir():
            with contextlib.suppress(OSError):
                links.append(os.readlink(fd))
        return sum(link.startswith(str(tmp_path / "x.db")) for link in links)

    store = SqliteStore(tmp_path / "x.db")
    store.create(_row("a"), _started())
    for _ in range(5):
        pool = [threading.Thread(target=store.get, args=("a",)) for _ in range(20)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
    gc.collect()
    # 100 threads came and went; SQLite keeps a few closed descriptors for reuse (POSIX
    # locks are per process), but one connection kept per thread would be 100 or more.
    assert open_files() < 30
    store.close()
    assert open_files() == 0


# -- schema and migrations -----------------------------------------------------------------


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


@pytest.mark.parametrize("start", range(SCHEMA_VERSION))
def test_an_older_database_is_upgraded_when_opened(tmp_path: Path, start: int) -> None:
    path = tmp_path / "old.db"
    raw = _raw(path)
    migrate(raw, "test", MIGRATIONS[:start])
    assert schema_version(raw) == start
    raw.close()
    with SqliteStore(path) as store:
        store.create(_row("a"), _started())
        assert store.versions(["a"]) == {"a": 1}
    raw = _raw(path)
    assert schema_version(raw) == SCHEMA_VERSION
    raw.close()


def test_migrations_run_in_order_from_the_stored_version(tmp_path: Path) -> None:
    applied: list[str] = []

    def one(conn: sqlite3.Connection) -> None:
        applied.append("one")
        conn.execute("CREATE TABLE t (a TEXT)")

    def two(conn: sqlite3.Connection) -> None:
        applied.append("two")
        conn.execute("ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT 'x'")

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE u (a TEXT)")
        raise RuntimeError("migration bug")

    raw = _raw(tmp_path / "m.db")
    assert migrate(raw, "test", [one]) == 0
    raw.execute("INSERT INTO t (a) VALUES ('kept')")
    assert migrate(raw, "test", [one, two]) == 1
    assert migrate(raw, "test", [one, two]) == 2
    assert applied == ["one", "two"]
    assert raw.execute("SELECT a, b FROM t").fetchall() == [("kept", "x")]
    with pytest.raises(RuntimeError, match="migration bug"):
        migrate(raw, "test", [one, two, broken])
    assert schema_version(raw) == 2  # the failed step left nothing behind
    assert raw.execute("SELECT name FROM sqlite_master WHERE name = 'u'").fetchone() is None
    raw.close()


def test_a_database_from_a_newer_wfkit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    SqliteStore(path).close()
    raw = _raw(path)
    raw.execute("UPDATE wfkit_schema SET version = ?", (SCHEMA_VERSION + 1,))
    raw.close()
    with pytest.raises(StoreError) as caught:
        SqliteStore(path)
    message = str(caught.value)
    assert "newer wfkit" in message and "upgrade wfkit" in message
    assert f"schema version {SCHEMA_VERSION + 1}" in message and str(path) in message


def test_another_programs_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    raw = _raw(path)
    raw.execute("CREATE TABLE customers (name TEXT)")
    raw.close()
    with pytest.raises(StoreError, match="not a wfkit store"):
        SqliteStore(path)
    raw = _raw(path)
    assert [r[0] for r in raw.execute("SELECT name FROM sqlite_master")] == ["customers"]
    raw.close()


def test_a_corrupt_file_is_a_store_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"definitely not SQLite " + os.urandom(8192))
    with pytest.raises(StoreError) as caught:
        SqliteStore(path)
    assert str(path) in str(caught.value)
    assert str(path) in caught.value.url
    assert "not a database" in str(caught.value)


def test_missing_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "does" / "not" / "exist" / "yet.db"
    with SqliteStore(path) as store:
        store.create(_row("a"), _started())
    assert path.is_file()


# -- URLs ----------------------------------------------------------------------------------


def test_relative_absolute_and_bare_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cases = {
        "sqlite:///rel/one.db": tmp_path / "rel" / "one.db",
        f"sqlite:///{tmp_path}/abs/two.db": tmp_path / "abs" / "two.db",
        "bare/three.db": tmp_path / "bare" / "three.db",
        DEFAULT_STORE_URL: tmp_path / ".wfkit" / "wfkit.db",
    }
    for url, expected in cases.items():
        store = open_store(url)
        assert isinstance(store, SqliteStore)
        store.create(_row("a"), _started())
        store.close()
        assert expected.is_file(), url
    assert f"sqlite:///{tmp_path}".startswith("sqlite:////")  # tmp_path is absolute


def test_memory_url() -> None:
    store = open_store("sqlite:///:memory:")
    assert isinstance(store, SqliteStore) and store.path == ":memory:"
    store.create(_row("a"), _started())
    assert store.versions(["a"]) == {"a": 1}
    store.close()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://user:hunter2@host/db", "unsupported store scheme 'mysql'"),
        ("somewhere/file.txt", "not a store URL"),
        ("sqlite://host/file.db", "has no host"),
        ("sqlite:///", "names no file"),
        ("sqlite:///x.db?mode=ro", "unknown SQLite store option 'mode'"),
    ],
)
def test_bad_urls_list_the_supported_forms(url: str, problem: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(url)
    message = str(caught.value)
    assert problem in message and "hunter2" not in message
    if "unsupported" in problem or "not a store URL" in problem:
        assert "sqlite:///relative/path.db" in message and "sqlite:///:memory:" in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bob:pw@host/db", "postgresql://bob:***@host/db"),
        ("postgresql://bob@host/db", "postgresql://bob@host/db"),
        ("postgresql://bob:p/w@d@host/db", "postgresql://bob:***@host/db"),
        ("postgresql://host/db?password=pw&x=1", "postgresql://host/db?password=***&x=1"),
        ("sqlite:///a@b.db", "sqlite:///a@b.db"),
        ("plain.db", "plain.db"),
    ],
)
def test_redact_hides_passwords_only(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_a_version_1_database_with_instances_reads_and_runs_on(tmp_path: Path) -> None:
    """Rows written before summaries moved into the history: one event per row, the
    summary in the instance row. They read back the same, and appends go on."""
    path = tmp_path / "v1.db"
    raw = _raw(path)
    migrate(raw, "test", MIGRATIONS[:1])
    raw.execute(
        "INSERT INTO instances (instance_id, workflow_name, status, created_at, updated_at, "
        "definition_hash, custom_status, properties, version) "
        "VALUES ('old', 'w', 'RUNNING', 1.0, 2.0, 'h', '\"two\"', '{\"k\": 2}', 2)"
    )
    raw.executemany(
        "INSERT INTO history (instance_id, seq, type, at, data) VALUES ('old', ?, ?, ?, ?)",
        [(1, "ExecutionStarted", 1.0, "{}"), (2, "TaskScheduled", 2.0, '{"step": "a"}')],
    )
    raw.close()
    with SqliteStore(path) as store:
        found = store.get("old")
        assert found is not None
        assert (found.version, found.updated_at, found.custom_status) == (2, 2.0, '"two"')
        assert [(e.seq, e.type) for e in store.history("old")] == [
            (1, "ExecutionStarted"), (2, "TaskScheduled"),
        ]  # fmt: skip
        summary = InstanceUpdate(updated_at=3.0, custom_status='"three"', properties="{}")
        store.append("old", 2, [EventRow(0, "TaskCompleted", 3.0, "{}")] * 2, summary)
        found = store.get("old")
        assert found is not None
        assert (found.version, found.updated_at, found.custom_status) == (4, 3.0, '"three"')
        assert [e.seq for e in store.history("old", 1)] == [2, 3, 4]


def test_a_version_2_database_moves_its_histories_to_numbered_keys(tmp_path: Path) -> None:
    """Version 3 keys history rows by instance number: every row of a version 2 file
    (one event per row, several events per row with their summary) comes across, each
    instance keeps its own history, and a terminal one can be replaced and purged."""
    path = tmp_path / "v2.db"
    raw = _raw(path)
    migrate(raw, "test", MIGRATIONS[:2])
    for name, status in (("zed", "RUNNING"), ("amy", "COMPLETED")):  # ids out of order
        raw.execute(
            "INSERT INTO instances (instance_id, workflow_name, status, created_at, "
            "updated_at, definition_hash, custom_status, properties, version, summary_seq) "
            f"VALUES ('{name}', 'w', '{status}', 1.0, 1.0, 'h', '\"one\"', '{{}}', 1, 1)"
        )
        raw.executemany(
            "INSERT INTO history (instance_id, seq, type, at, data, n, ats, s_updated_at, "
            "s_custom_status, s_properties) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (name, 1, "ExecutionStarted", 1.0, f'"{name}"', 1, None, None, None, None),
                (name, 3, "TaskScheduled\nTaskCompleted", 3.0, '"a"\n"b"', 2, "2.5\n3.0",
                 3.0, '"three"', '{"k": 3}'),
            ],
        )  # fmt: skip
    raw.close()
    with SqliteStore(path) as store:
        assert store.versions(["zed", "amy"]) == {"zed": 3, "amy": 3}
        for name in ("zed", "amy"):
            events = store.history(name)
            assert [(e.seq, e.type, e.at, e.data) for e in events] == [
                (1, "ExecutionStarted", 1.0, f'"{name}"'),
                (2, "TaskScheduled", 2.5, '"a"'),
                (3, "TaskCompleted", 3.0, '"b"'),
            ]
            assert [e.seq for e in store.history(name, 2)] == [3]
            found = store.get(name)
            assert found is not None
            assert (found.version, found.updated_at, found.custom_status) == (3, 3.0, '"three"')
        summary = InstanceUpdate(updated_at=4.0, custom_status='"four"', properties="{}")
        assert store.append("zed", 3, [EventRow(0, "TaskScheduled", 4.0, "{}")], summary) == 4
        store.create(_row("amy"), _started())  # replaces the finished run, history and all
        assert [e.type for e in store.history("amy")] == ["Started"]
        assert [e.seq for e in store.history("zed")] == [1, 2, 3, 4]
        store.append("amy", 1, [], InstanceUpdate(status="COMPLETED"))
        assert store.purge(["amy", "zed"]) == 1  # zed is running: kept
        assert store.history("amy") == [] and len(store.history("zed")) == 4
    raw = _raw(path)
    assert raw.execute("SELECT count(*) FROM history").fetchone()[0] == 3  # zed's rows
    assert raw.execute("SELECT DISTINCT instance_no FROM history").fetchall() == [(1,)]
    raw.close()


def test_a_reader_does_not_create_a_store_where_there_is_none(tmp_path: Path) -> None:
    """A mistyped --store for wfkit get or list must not answer 'not found' from a new,
    empty store (and leave that file and its folders behind)."""
    missing = tmp_path / "typo" / "wfkti.db"
    for url in (f"sqlite:///{missing}", str(missing)):
        with pytest.raises(StoreError, match=r"there is no store at .*wfkti\.db"):
            open_store(url, create=False)
    assert not missing.parent.exists()
    open_store(f"sqlite:///{missing}").close()  # a writer creates it, folders and all
    open_store(f"sqlite:///{missing}", create=False).close()  # then readers open it
    open_store("sqlite:///:memory:", create=False).close()  # nothing to mistype there


@pytest.mark.parametrize(("option", "pragma"), [("", 1), ("?synchronous=full", 2),
                                                ("?synchronous=NORMAL", 1)])  # fmt: skip
def test_the_url_chooses_synchronous_full_for_power_loss_durability(
    tmp_path: Path, option: str, pragma: int
) -> None:
    """``?synchronous=full`` fsyncs every commit (SQLite's FULL is 2, NORMAL 1): the
    pragma that the store's own connections run with."""
    path = tmp_path / "sync.db"
    store = open_store(f"sqlite:///{path}{option}")
    try:
        assert isinstance(store, SqliteStore)
        assert store.path == str(path)
        store.create(_row("a"), _started())
        with store._conns.read("test") as conn:  # the store's connection, not a new one
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == pragma
    finally:
        store.close()


@pytest.mark.parametrize(
    ("query", "words"),
    [("?synchronous=off", "synchronous='off' is not a choice"),
     ("?journal=wal", "unknown SQLite store option 'journal'")],
)  # fmt: skip
def test_a_wrong_sqlite_url_option_is_a_store_error_naming_the_choices(
    tmp_path: Path, query: str, words: str
) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(f"sqlite:///{tmp_path / 'x.db'}{query}")
    assert words in str(caught.value)
    assert "synchronous=full" in str(caught.value)
    assert not (tmp_path / "x.db").exists()
