"""The Store contract, run against every backend (the ``store`` fixture in conftest.py).

Only the protocol's public methods are used here, so a new backend passes this file
unchanged or is wrong.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from wfkit.engine.protocols import EventRow, InstanceRow, InstanceUpdate, Owner, Store
from wfkit.errors import InstanceAlreadyExists, InstanceNotFound, StoreError, VersionConflict

TERMINAL = ["COMPLETED", "FAILED", "TERMINATED", "CANCELED"]
ACTIVE = ["PENDING", "RUNNING", "SUSPENDED", "CONTINUED_AS_NEW"]
HOST = socket.gethostname()

ALICE = Owner("alice", HOST, os.getpid())
BOB = Owner("bob", HOST, os.getpid())


def row(instance_id: str, **fields: object) -> InstanceRow:
    """An instance row with plausible defaults; ``fields`` override them."""
    values: dict[str, object] = {
        "instance_id": instance_id,
        "workflow_name": "report",
        "status": "RUNNING",
        "created_at": 1_000.0,
        "updated_at": 1_000.0,
        "definition_hash": "hash-1",
    }
    values.update(fields)
    return InstanceRow(**values)  # type: ignore[arg-type]


def events(*types: str, at: float = 5.0) -> list[EventRow]:
    """Events of these types; their ``seq`` is 0 (the store numbers them)."""
    return [EventRow(0, kind, at + n, f'{{"n": {n}}}') for n, kind in enumerate(types)]


def make(store: Store, instance_id: str, count: int = 1, **fields: object) -> None:
    store.create(row(instance_id, **fields), events(*(["Started"] * count)))


# -- definitions ---------------------------------------------------------------------------


def test_definitions_are_kept_under_their_hash(store: Store) -> None:
    assert store.load_definition("abc") is None
    store.save_definition("abc", "report", "name: report\n")
    store.save_definition("abc", "report", "name: report\n")  # idempotent
    store.save_definition("def", "other", "name: other\n")
    assert store.load_definition("abc") == ("report", "name: report\n")
    assert store.load_definition("def") == ("other", "name: other\n")


# -- create and get ------------------------------------------------------------------------


def test_create_then_get_round_trips_every_field(store: Store) -> None:
    original = row(
        "full",
        status="PENDING",
        created_at=1_700_000_000.125,
        updated_at=1_700_000_001.5,
        definition_hash="sha-xyz",
        input='{"region": "eu"}',
        output='{"score": 0.9}',
        failure='{"error_type": "X"}',
        custom_status='"halfway"',
        properties='{"wfkit.steps.completed": "2"}',
        parent_id="parent-1",
        version=1,
        owner="someone",
        lease_until=1_700_000_100.0,
    )
    store.create(original, events("ExecutionStarted"))
    assert store.get("full") == original


def test_get_of_an_unknown_id_is_none(store: Store) -> None:
    assert store.get("nobody") is None


def test_the_version_is_the_number_of_first_events(store: Store) -> None:
    store.create(row("a", version=99), events("Started", "TaskScheduled", "TaskScheduled"))
    found = store.get("a")
    assert found is not None and found.version == 3
    store.create(row("b"), [])
    assert store.versions(["a", "b"]) == {"a": 3, "b": 0}


@pytest.mark.parametrize("status", ACTIVE)
def test_create_refuses_to_replace_an_active_instance(store: Store, status: str) -> None:
    make(store, "busy", 2, status=status, workflow_name="first")
    with pytest.raises(InstanceAlreadyExists) as caught:
        store.create(row("busy", workflow_name="second"), events("Started"))
    assert str(caught.value) == "an active workflow with ID 'busy' already exists"
    assert caught.value.instance_id == "busy"
    kept = store.get("busy")
    assert kept is not None and kept.workflow_name == "first" and kept.status == status
    assert len(store.history("busy")) == 2


@pytest.mark.parametrize("status", TERMINAL)
def test_create_replaces_a_terminal_instance_and_its_history(store: Store, status: str) -> None:
    make(store, "done", 3, status=status, workflow_name="first", output='"old"')
    store.create(row("done", workflow_name="second"), events("Fresh"))
    replaced = store.get("done")
    assert replaced is not None
    assert (replaced.workflow_name, replaced.status, replaced.output) == ("second", "RUNNING", None)
    assert replaced.version == 1
    assert [(e.seq, e.type) for e in store.history("done")] == [(1, "Fresh")]


# -- history and append --------------------------------------------------------------------


def test_history_is_numbered_in_order_and_after_skips_the_known_part(store: Store) -> None:
    given = [EventRow(42, "A", 1.0, '"a"'), EventRow(7, "B", 2.0, '"b"')]
    store.create(row("h"), given)  # the store numbers events itself
    store.append(
        "h", 2, [EventRow(0, "C", 3.0, '"c"'), EventRow(0, "D", 4.0, '"d"')], InstanceUpdate()
    )
    history = store.history("h")
    assert history == [
        EventRow(1, "A", 1.0, '"a"'),
        EventRow(2, "B", 2.0, '"b"'),
        EventRow(3, "C", 3.0, '"c"'),
        EventRow(4, "D", 4.0, '"d"'),
    ]
    assert store.history("h", after=2) == history[2:]
    assert store.history("h", after=4) == []
    assert store.history("h", after=100) == []
    assert store.history("nobody") == []


def test_append_numbers_events_and_returns_the_new_version(store: Store) -> None:
    make(store, "a")
    assert store.append("a", 1, events("X"), InstanceUpdate()) == 2
    assert store.append("a", 2, events("Y", "Z"), InstanceUpdate()) == 4
    assert [(e.seq, e.type) for e in store.history("a")] == [
        (1, "Started"), (2, "X"), (3, "Y"), (4, "Z"),
    ]  # fmt: skip
    found = store.get("a")
    assert found is not None and found.version == 4
    assert store.versions(["a"]) == {"a": 4}


def test_append_without_events_keeps_the_version_and_applies_the_update(store: Store) -> None:
    make(store, "a", 2)
    assert store.append("a", 2, [], InstanceUpdate(custom_status='"note"')) == 2
    found = store.get("a")
    assert found is not None and (found.version, found.custom_status) == (2, '"note"')


@pytest.mark.parametrize("stale", [0, 1, 3])
def test_append_with_a_stale_version_conflicts_and_writes_nothing(store: Store, stale: int) -> None:
    make(store, "a", 2, custom_status='"before"')
    with pytest.raises(VersionConflict) as caught:
        store.append("a", stale, events("Late"), InstanceUpdate(status="FAILED"))
    assert (caught.value.instance_id, caught.value.expected, caught.value.actual) == ("a", stale, 2)
    found = store.get("a")
    assert found is not None and (found.version, found.status) == (2, "RUNNING")
    assert [e.type for e in store.history("a")] == ["Started", "Started"]


def test_append_to_a_missing_instance_conflicts_with_actual_none(store: Store) -> None:
    with pytest.raises(VersionConflict) as caught:
        store.append("ghost", 0, events("X"), InstanceUpdate())
    assert (caught.value.expected, caught.value.actual) == (0, None)
    assert store.history("ghost") == []


def test_update_applies_the_fields_given_and_keeps_the_others(store: Store) -> None:
    make(
        store, "u", status="RUNNING", updated_at=1.0, output=None, failure=None,
        custom_status='"c0"', properties='{"k": "v0"}',
    )  # fmt: skip
    store.append("u", 1, events("A"), InstanceUpdate(status="SUSPENDED", updated_at=2.0))
    found = store.get("u")
    assert found is not None
    assert (found.status, found.updated_at, found.custom_status) == ("SUSPENDED", 2.0, '"c0"')
    assert (found.output, found.failure, found.properties) == (None, None, '{"k": "v0"}')
    full = InstanceUpdate(
        status="COMPLETED", updated_at=3.0, output='{"r": 1}', failure='{"e": 2}',
        custom_status='"c1"', properties='{"k": "v1"}',
    )  # fmt: skip
    store.append("u", 2, events("B"), full)
    found = store.get("u")
    assert found is not None
    assert (found.status, found.updated_at, found.output, found.failure) == (
        "COMPLETED", 3.0, '{"r": 1}', '{"e": 2}',
    )  # fmt: skip
    assert (found.custom_status, found.properties, found.version) == ('"c1"', '{"k": "v1"}', 3)
    assert (found.workflow_name, found.created_at, found.definition_hash) == (
        "report", 1_000.0, "hash-1",
    )  # fmt: skip


# -- append_many ---------------------------------------------------------------------------


def test_append_many_writes_the_others_and_returns_the_conflicts(store: Store) -> None:
    for name in ("a", "b", "c"):
        make(store, name)
    conflicts = store.append_many(
        [
            ("a", 1, events("A2"), InstanceUpdate(custom_status='"a"')),
            ("b", 0, events("B2"), InstanceUpdate(custom_status='"b"')),  # stale
            ("ghost", 0, events("G1"), InstanceUpdate()),  # missing
            ("c", 1, events("C2", "C3"), InstanceUpdate(status="COMPLETED")),
        ]
    )
    assert conflicts == ["b", "ghost"]
    assert store.versions(["a", "b", "c", "ghost"]) == {"a": 2, "b": 1, "c": 3}
    assert [e.type for e in store.history("a")] == ["Started", "A2"]
    assert [e.type for e in store.history("b")] == ["Started"]
    b, c = store.get("b"), store.get("c")
    assert b is not None and b.custom_status is None
    assert c is not None and c.status == "COMPLETED"


def test_append_many_can_append_twice_to_one_instance(store: Store) -> None:
    make(store, "a")
    batch = [("a", 1, events("X"), InstanceUpdate()), ("a", 2, events("Y"), InstanceUpdate())]
    assert store.append_many(batch) == []
    assert [e.seq for e in store.history("a")] == [1, 2, 3]
    assert store.append_many([]) == []


def test_append_many_for_an_owner_refuses_instances_it_does_not_hold(store: Store) -> None:
    """The fence of an engine whose lease lapsed: once another owner has taken an
    instance (or none holds it), the old owner's append is refused even though the
    version it read is still the stored one."""
    for name in ("mine", "taken", "free"):
        make(store, name)
    assert sorted(store.claim(ALICE, 30, ids=["mine", "taken"])) == ["mine", "taken"]
    store.release(ALICE, ["taken"])
    assert store.claim(BOB, 30, ids=["taken"]) == ["taken"]
    batch = [(name, 1, events("X"), InstanceUpdate()) for name in ("mine", "taken", "free")]
    assert store.append_many(batch, owner=ALICE) == ["taken", "free"]
    assert store.versions(["mine", "taken", "free"]) == {"mine": 2, "taken": 1, "free": 1}
    assert store.append_many(batch[1:], owner=None) == []  # no owner given: no fence


def test_append_many_is_one_transaction_all_or_nothing_on_an_error(store: Store) -> None:
    make(store, "a")
    make(store, "b")
    broken = [EventRow(0, "Broken", 1.0, None)]  # type: ignore[arg-type]  # data is required
    with pytest.raises(StoreError):
        store.append_many(
            [("a", 1, events("A2"), InstanceUpdate()), ("b", 1, broken, InstanceUpdate())]
        )
    assert store.versions(["a", "b"]) == {"a": 1, "b": 1}
    assert [e.type for e in store.history("a")] == ["Started"]
    assert store.append("a", 1, events("A2"), InstanceUpdate()) == 2  # the store still works


# -- listing -------------------------------------------------------------------------------


def _listing(store: Store) -> None:
    specs = [
        ("i1", 1.0, "COMPLETED", "report"),
        ("i2", 2.0, "RUNNING", "report"),
        ("i3", 3.0, "FAILED", "train"),
        ("i4", 4.0, "RUNNING", "train"),
        ("i5", 5.0, "PENDING", "report"),
    ]
    for instance_id, created, status, name in specs:
        make(store, instance_id, created_at=created, status=status, workflow_name=name)


def ids(rows: list[InstanceRow]) -> list[str]:
    return [found.instance_id for found in rows]


def test_list_is_newest_first_and_filters(store: Store) -> None:
    _listing(store)
    assert ids(store.list_instances()) == ["i5", "i4", "i3", "i2", "i1"]
    assert ids(store.list_instances(status=["RUNNING"])) == ["i4", "i2"]
    assert ids(store.list_instances(status=["RUNNING", "COMPLETED"])) == ["i4", "i2", "i1"]
    assert ids(store.list_instances(name="report")) == ["i5", "i2", "i1"]
    assert ids(store.list_instances(name="train", status=["RUNNING"])) == ["i4"]
    assert ids(store.list_instances(name="nothing")) == []
    assert ids(store.list_instances(status=["TERMINATED"])) == []
    assert ids(store.list_instances(limit=2)) == ["i5", "i4"]
    assert store.list_instances(limit=0) == []
    # a page bigger than any database integer is every instance, not an OverflowError
    assert ids(store.list_instances(limit=2**64)) == ["i5", "i4", "i3", "i2", "i1"]
    full = store.list_instances(status=["PENDING"])
    assert full == [store.get("i5")]


def test_list_pages_with_after_the_last_id(store: Store) -> None:
    _listing(store)
    first = store.list_instances(limit=2)
    second = store.list_instances(limit=2, after=first[-1].instance_id)
    third = store.list_instances(limit=2, after=second[-1].instance_id)
    assert [ids(first), ids(second), ids(third)] == [["i5", "i4"], ["i3", "i2"], ["i1"]]
    assert store.list_instances(limit=2, after="i1") == []
    running = store.list_instances(status=["RUNNING"], limit=1)
    assert ids(store.list_instances(status=["RUNNING"], limit=1, after="i4")) == ["i2"]
    assert ids(running) == ["i4"]


def _walk(store: Store, **filters: object) -> list[str]:
    """Every id, page by page (4 a page)."""
    seen: list[str] = []
    after: str | None = None
    while page := store.list_instances(limit=4, after=after, **filters):  # type: ignore[arg-type]
        seen += ids(page)
        after = page[-1].instance_id
    return seen


def test_list_pages_are_stable_when_timestamps_are_equal(store: Store) -> None:
    names = [f"x{(n * 7) % 23:02d}" for n in range(23)]  # created in a shuffled order
    for n, name in enumerate(names):
        make(store, name, created_at=7.0, status=ACTIVE[n % 2])
    make(store, "older", created_at=6.0)
    make(store, "newer", created_at=8.0, status="PENDING")
    expected = ["newer", *sorted(names, reverse=True), "older"]
    assert _walk(store) == expected
    assert _walk(store, status=["PENDING", "RUNNING"]) == expected
    assert _walk(store, name="report") == expected


def test_list_pages_by_key_walk_every_row_once_even_past_a_purged_row(store: Store) -> None:
    names = [f"x{(n * 7) % 23:02d}" for n in range(23)]  # equal times, shuffled order
    for n, name in enumerate(names):
        make(store, name, created_at=7.0, status=["COMPLETED", "RUNNING"][n % 2])
    make(store, "older", created_at=6.5)
    make(store, "newer", created_at=8.25, status="PENDING")
    seen: list[str] = []
    key: tuple[float, str] | None = None
    while page := store.list_instances(limit=4, after_key=key):
        seen += ids(page)
        key = (page[-1].created_at, page[-1].instance_id)
        if page[-1].status == "COMPLETED":  # the last row of the page goes meanwhile
            assert store.purge([page[-1].instance_id]) == 1
    assert seen == ["newer", *sorted(names, reverse=True), "older"]
    assert ids(store.list_instances(after_key=(7.0, "x10"), limit=3)) == ["x09", "x08", "x07"]
    assert ids(store.list_instances(after_key=(7.0, "x00"))) == ["older"]
    assert ids(store.list_instances(after_key=(100.0, ""), name="report", limit=1)) == ["newer"]


def test_list_after_an_unknown_id_is_an_error(store: Store) -> None:
    _listing(store)
    with pytest.raises(InstanceNotFound):
        store.list_instances(after="purged-meanwhile")


# -- children and purge --------------------------------------------------------------------


def test_children_are_the_instances_with_that_parent(store: Store) -> None:
    make(store, "parent")
    make(store, "c2", parent_id="parent", created_at=2.0)
    make(store, "c1", parent_id="parent", created_at=1.0)
    make(store, "grandchild", parent_id="c1")
    assert store.children("parent") == ["c1", "c2"]
    assert store.children("c1") == ["grandchild"]
    assert store.children("grandchild") == []
    assert store.children("nobody") == []


def test_purge_deletes_terminal_instances_and_histories(store: Store) -> None:
    make(store, "a", 3, status="COMPLETED")
    make(store, "b", 2, status="TERMINATED")
    make(store, "active", 2)
    make(store, "keep", 2, status="FAILED")
    assert store.purge(["a", "b", "a", "ghost", "active"]) == 2
    assert store.get("a") is None and store.get("b") is None
    assert store.history("a") == [] and store.history("b") == []
    assert store.versions(["a", "b", "active", "keep"]) == {"active": 2, "keep": 2}
    assert len(store.history("active")) == 2  # not terminal: left alone, history too
    assert store.purge([]) == 0
    make(store, "a")  # the id is free again, with a fresh history
    assert [e.seq for e in store.history("a")] == [1]


def test_an_instance_made_after_a_purge_starts_with_only_its_own_history(store: Store) -> None:
    """Whatever a backend keys histories by (SQLite: a number that a purged newest
    instance frees for the next one), nothing of a purged history shows up again."""
    make(store, "first", 2)
    make(store, "gone", 4, status="COMPLETED")
    assert store.purge(["gone"]) == 1
    make(store, "next", 1)
    store.append("next", 1, events("Scheduled"), InstanceUpdate(custom_status='"n"'))
    assert [e.type for e in store.history("next")] == ["Started", "Scheduled"]
    assert store.versions(["first", "next", "gone"]) == {"first": 2, "next": 2}
    assert [e.seq for e in store.history("first")] == [1, 2]
    found = store.get("next")
    assert found is not None and (found.version, found.custom_status) == (2, '"n"')


# -- versions ------------------------------------------------------------------------------


def test_versions_of_many_ids_leave_unknown_ones_out(store: Store) -> None:
    for n in range(700):  # more than one chunk of ids
        make(store, f"v{n}", 1 + n % 3)
    asked = [f"v{n}" for n in range(700)] + ["ghost", "v1"]
    found = store.versions(asked)
    assert found == {f"v{n}": 1 + n % 3 for n in range(700)}
    assert store.versions([]) == {}


# -- claims and leases ---------------------------------------------------------------------


def test_claim_takes_unowned_active_instances_oldest_first(store: Store) -> None:
    make(store, "new", created_at=3.0)
    make(store, "old", created_at=1.0)
    make(store, "mid", created_at=2.0, status="SUSPENDED")
    for n, status in enumerate(TERMINAL):
        make(store, f"over{n}", created_at=0.5, status=status)
    assert store.claim(ALICE, 30, limit=2) == ["old", "mid"]
    assert store.claim(ALICE, 30) == ["new"]
    assert store.claim(ALICE, 30) == []  # held, not newly claimed
    assert store.claim(BOB, 30) == []
    found = store.get("old")
    assert found is not None and found.owner == "alice"
    assert found.lease_until is not None and time.time() + 25 < found.lease_until < time.time() + 35


def test_claim_with_ids_considers_only_those(store: Store) -> None:
    for name in ("a", "b", "c"):
        make(store, name)
    assert store.claim(ALICE, 30, ids=["b", "ghost"]) == ["b"]
    assert store.claim(BOB, 30, ids=["b"]) == []
    assert store.claim(BOB, 30, limit=1, ids=["c", "a"]) == ["a"]
    assert store.claim(BOB, 30, ids=[]) == []
    assert sorted(store.claim(BOB, 30)) == ["c"]


def test_an_expired_lease_can_be_claimed_by_another_owner(store: Store) -> None:
    make(store, "a")
    assert store.claim(ALICE, 0.2) == ["a"]
    assert store.claim(BOB, 30) == []
    time.sleep(0.3)
    assert store.claim(BOB, 30) == ["a"]
    assert store.renew(ALICE, ["a"], 30) == []  # alice lost it
    found = store.get("a")
    assert found is not None and found.owner == "bob"


def test_renew_extends_the_leases_still_held(store: Store) -> None:
    make(store, "a")
    make(store, "b")
    make(store, "c")
    store.claim(ALICE, 0.3, ids=["a", "b"])
    store.claim(BOB, 30, ids=["c"])
    before = store.get("a")
    assert before is not None and before.lease_until is not None
    assert store.renew(ALICE, ["a", "b", "c", "ghost"], 60) == ["a", "b"]
    after = store.get("a")
    assert after is not None and after.lease_until is not None
    assert after.lease_until > before.lease_until + 50
    time.sleep(0.4)  # the old 0.3 s lease would have run out by now
    assert store.claim(BOB, 30) == []


def test_release_gives_instances_up_only_when_still_held(store: Store) -> None:
    make(store, "a")
    make(store, "b")
    store.claim(ALICE, 30, ids=["a"])
    store.claim(BOB, 30, ids=["b"])
    store.release(ALICE, ["a", "b", "ghost"])
    a, b = store.get("a"), store.get("b")
    assert a is not None and (a.owner, a.lease_until) == (None, None)
    assert b is not None and b.owner == "bob"
    assert store.claim(BOB, 30) == ["a"]


def test_the_owner_a_claim_or_release_ends_becomes_the_last_owner(store: Store) -> None:
    """So that the next owner can say which owner left work unfinished, and when."""
    make(store, "a")
    assert store.claim(ALICE, -1) == ["a"]  # a lease already over
    held = store.get("a")
    assert held is not None and (held.last_owner, held.last_owner_until) == (None, None)
    before = time.time()
    assert store.claim(BOB, 30) == ["a"]
    taken = store.get("a")
    assert taken is not None and taken.owner == "bob" and taken.last_owner == "alice"
    assert taken.last_owner_until == held.lease_until  # when alice's hold ended
    store.release(BOB, ["a"])
    released = store.get("a")
    assert released is not None and released.owner is None and released.last_owner == "bob"
    assert released.last_owner_until is not None and released.last_owner_until >= before
    assert store.claim(ALICE, 30) == ["a"]  # from nobody: bob stays the last owner
    again = store.get("a")
    assert again is not None and (again.last_owner, again.last_owner_until) == (
        "bob",
        released.last_owner_until,
    )


def test_terminal_instances_are_never_claimed_whatever_their_lease(store: Store) -> None:
    make(store, "a")
    assert store.claim(ALICE, 0.1) == ["a"]
    store.append("a", 1, events("Done"), InstanceUpdate(status="COMPLETED"))
    time.sleep(0.2)
    assert store.claim(BOB, 30) == []
    found = store.get("a")
    assert found is not None and found.owner is None  # let go when it ended, not taken


def _exited_pid() -> int:
    """The pid of a process that has run and been reaped."""
    done = subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert done.returncode == 0
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_leases_of_a_dead_process_of_this_host_are_taken_at_once(store: Store) -> None:
    make(store, "a", created_at=1.0)
    make(store, "b", created_at=2.0)
    dead = Owner("dead-worker", HOST, _exited_pid())
    assert store.claim(dead, 3600) == ["a", "b"]
    assert store.claim(BOB, 30, limit=1) == ["a"]
    assert store.claim(BOB, 30) == ["b"]
    found = store.get("b")
    assert found is not None and found.owner == "bob"


def test_a_live_process_keeps_its_leases_until_it_exits(store: Store) -> None:
    make(store, "a")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        worker = Owner("live-worker", HOST, alive.pid)
        assert store.claim(worker, 3600) == ["a"]
        assert store.claim(BOB, 30) == []
        assert store.claim(BOB, 30, ids=["a"]) == []
    finally:
        alive.kill()
        alive.wait()
    assert store.claim(BOB, 30) == ["a"]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="zombies are seen through /proc")
def test_an_exited_process_not_yet_reaped_counts_as_dead(store: Store) -> None:
    make(store, "a")
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # never waited for: a zombie
    try:
        deadline = time.monotonic() + 30
        while not _zombie(child.pid):
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.01)
        assert store.claim(Owner("zombie-worker", HOST, child.pid), 3600) == ["a"]
        assert store.claim(BOB, 30) == ["a"]
    finally:
        child.wait()


def _zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return stat.read().rpartition(b")")[2].split()[0] == b"Z"


def test_a_dead_pid_on_another_host_is_not_taken(store: Store) -> None:
    make(store, "a")
    elsewhere = Owner("remote-worker", HOST + "-elsewhere", _exited_pid())
    assert store.claim(elsewhere, 3600) == ["a"]
    assert store.claim(BOB, 30) == []


# -- threads and closing -------------------------------------------------------------------


def test_threads_appending_with_retries_lose_and_duplicate_nothing(store: Store) -> None:
    make(store, "shared")
    make(store, "lonely")
    errors: list[BaseException] = []

    def worker(tag: str) -> None:
        try:
            for n in range(40):
                while True:
                    version = store.versions(["shared"])["shared"]
                    try:
                        store.append("shared", version, events(f"{tag}{n}"), InstanceUpdate())
                        break
                    except VersionConflict:
                        continue
                store.get("lonely")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(tag,)) for tag in "xyz"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    history = store.history("shared")
    assert [e.seq for e in history] == list(range(1, 122))
    assert sorted(e.type for e in history[1:]) == sorted(
        f"{t}{n}" for t in "xyz" for n in range(40)
    )


def test_close_is_idempotent(store: Store) -> None:
    make(store, "a")
    store.close()
    store.close()


# -- change notification -------------------------------------------------------------------


def _waiter(store: Store, after: int, timeout: float) -> tuple[threading.Thread, list[int]]:
    """A thread blocked in ``wait_for_change(timeout, after)``; its result lands in the list."""
    got: list[int] = []
    thread = threading.Thread(target=lambda: got.append(store.wait_for_change(timeout, after)))
    thread.start()
    return thread, got


def test_a_commit_moves_the_change_token(store: Store) -> None:
    token = store.wait_for_change(0)
    assert store.wait_for_change(0, after=token) == token
    make(store, "a")
    moved = store.wait_for_change(0, after=token)
    assert moved != token
    store.append("a", 1, events("Next"), InstanceUpdate())
    assert store.wait_for_change(0, after=moved) != moved


def test_a_commit_of_this_process_wakes_a_waiter(store: Store) -> None:
    token = store.wait_for_change(0)
    thread, got = _waiter(store, token, 120)  # woken by the commit, not by the timeout
    make(store, "a")
    thread.join(60)
    assert not thread.is_alive() and got and got[0] != token


def test_a_wait_for_change_with_nothing_committed_returns_after_its_timeout(
    store: Store,
) -> None:
    make(store, "a")
    token = store.wait_for_change(0)
    assert store.wait_for_change(0.05, after=token) == token


def test_a_commit_by_another_process_wakes_a_waiter(shared_store: tuple[Store, str]) -> None:
    store, url = shared_store
    make(store, "a")
    token = store.wait_for_change(0)
    thread, got = _waiter(store, token, 120)
    script = (
        "import sys\n"
        "from wfkit.engine.protocols import EventRow, InstanceUpdate\n"
        "from wfkit.store import open_store\n"
        "s = open_store(sys.argv[1])\n"
        "s.append('a', 1, [EventRow(0, 'FromAfar', 9.0, '{}')], InstanceUpdate())\n"
        "s.close()\n"
    )
    subprocess.run([sys.executable, "-c", script, url], check=True, timeout=60)
    thread.join(60)
    assert not thread.is_alive() and got and got[0] != token
    assert [e.type for e in store.history("a", after=1)] == ["FromAfar"]


# -- histories read from any point, summaries kept apart ------------------------------------


def test_history_after_any_seq_returns_exactly_the_later_events(store: Store) -> None:
    make(store, "h")
    store.append("h", 1, events("A", "B", "C"), InstanceUpdate())
    store.append("h", 4, events("D"), InstanceUpdate(custom_status='"d"'))
    store.append(
        "h", 5, events("E", "F"),
        InstanceUpdate(updated_at=9.0, custom_status='"ef"', properties='{"p": 1}'),
    )  # fmt: skip
    every = store.history("h")
    assert [(e.seq, e.type) for e in every] == list(
        enumerate(["Started", "A", "B", "C", "D", "E", "F"], 1)
    )
    assert [e.at for e in every] == [5.0, 5.0, 6.0, 7.0, 5.0, 5.0, 6.0]
    assert [e.data for e in every][1:4] == ['{"n": 0}', '{"n": 1}', '{"n": 2}']
    for after in range(8):
        assert store.history("h", after) == every[after:], after


def test_history_pages_hold_exactly_limit_events_from_any_seq(store: Store) -> None:
    make(store, "p")
    store.append("p", 1, events("A", "B", "C", "D"), InstanceUpdate())  # one commit
    store.append("p", 5, events("E"), InstanceUpdate(custom_status='"e"'))
    store.append("p", 6, events("F", "G"), InstanceUpdate(updated_at=9.0, custom_status='"fg"'))
    every = store.history("p")
    assert len(every) == 8
    for after in range(9):
        for limit in range(10):
            page = store.history("p", after, limit)
            assert page == every[after : after + limit], (after, limit)
    assert store.history("p", 2, 2**64) == every[2:]
    assert store.history("nobody", 0, 5) == []


def test_texts_with_line_breaks_round_trip(store: Store) -> None:
    make(store, "nl")
    odd = [EventRow(0, "A", 1.5, '"one\\nline"'), EventRow(0, "B", 2.5, '{\n  "pretty": true\n}')]
    store.append("nl", 1, odd, InstanceUpdate(updated_at=3.0, custom_status="c", properties="{}"))
    assert [(e.seq, e.type, e.at, e.data) for e in store.history("nl", 1)] == [
        (2, "A", 1.5, '"one\\nline"'),
        (3, "B", 2.5, '{\n  "pretty": true\n}'),
    ]


def test_a_summary_only_append_and_a_later_partial_update_combine(store: Store) -> None:
    """The summary of a step's append (time, status line, properties) and a later
    update that gives only a status keep each other's fields."""
    make(store, "s", custom_status='"c0"', properties='{"k": 0}')
    summary = InstanceUpdate(updated_at=7.0, custom_status='"c1"', properties='{"k": 1}')
    assert store.append("s", 1, events("A", "B"), summary) == 3
    found = store.get("s")
    assert found is not None
    assert (found.version, found.updated_at, found.custom_status, found.properties) == (
        3, 7.0, '"c1"', '{"k": 1}',
    )  # fmt: skip
    assert store.list_instances() == [found]
    store.append("s", 3, events("C"), InstanceUpdate(status="SUSPENDED"))
    found = store.get("s")
    assert found is not None
    assert (found.status, found.version, found.custom_status, found.properties) == (
        "SUSPENDED", 4, '"c1"', '{"k": 1}',
    )  # fmt: skip
    store.append("s", 4, [], InstanceUpdate(custom_status='"c2"'))
    found = store.get("s")
    assert found is not None and (found.version, found.custom_status) == (4, '"c2"')
    assert found.properties == '{"k": 1}' and found.updated_at == 7.0
    store.append("s", 4, events("D"), summary)
    with pytest.raises(VersionConflict):
        store.append("s", 4, events("E"), summary)
    assert store.versions(["s"]) == {"s": 5}


def test_create_with_an_owner_claims_the_new_instance(store: Store) -> None:
    before = time.time()
    store.create(row("o"), events("Started", "TaskScheduled"), owner=ALICE, lease_seconds=30)
    found = store.get("o")
    assert found is not None and found.owner == ALICE.id and found.version == 2
    assert found.lease_until is not None and before + 29 < found.lease_until < time.time() + 31
    assert store.claim(BOB, 30, ids=["o"]) == []
    assert store.renew(ALICE, ["o"], 30) == ["o"]


@pytest.mark.parametrize("status", TERMINAL)
def test_an_append_that_ends_an_instance_releases_it(store: Store, status: str) -> None:
    make(store, "end")
    assert store.claim(ALICE, 30, ids=["end"]) == ["end"]
    store.append("end", 1, events("Done"), InstanceUpdate(status=status, updated_at=9.0))
    found = store.get("end")
    assert found is not None and (found.status, found.owner, found.lease_until) == (
        status, None, None,
    )  # fmt: skip
    assert store.renew(ALICE, ["end"], 30) == []


def test_has_free_says_whether_a_claim_would_find_free_instances(store: Store) -> None:
    assert not store.has_free()
    make(store, "done", status="COMPLETED")
    assert not store.has_free()  # terminal: never claimed
    make(store, "a")
    assert store.has_free()
    assert store.claim(ALICE, 30) == ["a"]
    assert not store.has_free()  # held, lease running
    assert store.renew(ALICE, ["a"], -1) == ["a"]  # its lease ran out
    assert store.has_free()


def test_the_newest_summary_wins_after_appends_that_rewrite_the_row(store: Store) -> None:
    """Summary-only appends (kept on history rows) and appends that rewrite the row
    (a status change) in any order: ``get`` gives the newest summary each time."""
    make(store, "s", custom_status='"c0"')
    version = 1
    for n, status in enumerate(["SUSPENDED", "RUNNING", "SUSPENDED", "RUNNING"], start=1):
        summary = InstanceUpdate(updated_at=n, custom_status=f'"s{n}"', properties=f"[{n}]")
        version = store.append("s", version, events("A"), summary)
        found = store.get("s")
        assert found is not None and (found.custom_status, found.properties) == (
            f'"s{n}"',
            f"[{n}]",
        )
        version = store.append("s", version, events("B"), InstanceUpdate(status=status))
        found = store.get("s")
        assert found is not None and (found.status, found.custom_status) == (status, f'"s{n}"')
        version = store.append("s", version, events("C"), InstanceUpdate(custom_status=f'"r{n}"'))
        found = store.get("s")
        assert found is not None and (found.custom_status, found.properties) == (
            f'"r{n}"',
            f"[{n}]",
        )


def test_find_ended_walks_each_matching_ended_instance_once(store: Store) -> None:
    for n in range(30):
        status = ("COMPLETED", "FAILED", "RUNNING")[n % 3]
        make(store, f"i{n:02}", status=status, updated_at=100.0 + n)
    found: list[str] = []
    position, calls = 0, 0
    while True:
        ids, position = store.find_ended(
            statuses=["COMPLETED"], before=120.0, limit=3, after=position
        )
        found += ids
        calls += 1
        assert len(ids) <= 3
        if position == 0:
            break
    assert sorted(found) == [f"i{n:02}" for n in range(0, 20, 3)]
    assert len(found) == len(set(found)) and calls <= 12
    every, _ = store.find_ended(before=1e12, limit=100)
    assert sorted(every) == sorted(f"i{n:02}" for n in range(30) if n % 3 != 2)
    assert store.purge(every) == 20
    space = store.reclaim()
    assert space.free_bytes == store.space().free_bytes
