"""Leases: when an engine claims, renews and polls, and what it is told, on a real
SQLite file, with a hand-driven clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wfkit.engine.loop.leases import CLAIM_BATCH, Leases, new_owner
from wfkit.engine.protocols import EventRow, InstanceRow, InstanceUpdate
from wfkit.engine.settings import EngineSettings
from wfkit.store import SqliteStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(str(tmp_path / "leases.db"))
    yield store
    store.close()


def _create(store: SqliteStore, instance_id: str, status: str = "RUNNING") -> None:
    row = InstanceRow(instance_id, "report", status, 1.0, 1.0, "hash")
    store.create(row, [EventRow(0, "Started", 1.0, "{}")])


def _leases(store: SqliteStore, clock: Clock, **settings: object) -> Leases:
    return Leases(store, new_owner(), EngineSettings(**settings), clock)  # type: ignore[arg-type]


def test_a_claim_takes_free_instances_only_when_it_is_due(store: SqliteStore) -> None:
    clock = Clock()
    leases = _leases(store, clock, claim_interval=1.0, poll_interval=1.0)  # no look between
    _create(store, "a")
    assert leases.claimed(clock.now) == ["a"]
    _create(store, "b")
    assert leases.claimed(clock.now + 0.4) == []  # not due: at least half an interval
    assert leases.claimed(clock.now + 1.6) == ["b"]  # due: at most an interval and a half


def test_an_engine_that_does_not_claim_free_instances_takes_none(store: SqliteStore) -> None:
    clock = Clock()
    leases = _leases(store, clock, claim_free=False)
    _create(store, "a")
    assert leases.claimed(clock.now) == []
    assert leases.claim_one("a") is True  # its own instances it still claims, one by one
    assert _leases(store, clock).claim_one("a") is False  # held by the first


def test_renewal_reports_the_instances_another_owner_took(store: SqliteStore) -> None:
    clock = Clock()
    first = _leases(store, clock, lease_seconds=3.0)
    for instance_id in ("a", "b"):
        _create(store, instance_id)
        assert first.claim_one(instance_id)
    assert first.lost(clock.now, lambda: ["a", "b"]) == []
    assert first.surely_held()
    store.release(first.owner, ["b"])  # as if its lease had run out...
    assert _leases(store, clock).claim_one("b")  # ...and another owner took it
    assert first.lost(clock.now + 0.5, lambda: ["a", "b"]) == []  # not due yet: no call
    assert first.lost(clock.now + 1.0, lambda: ["a", "b"]) == ["b"]


def test_leases_are_surely_held_only_for_two_thirds_of_a_lease_after_renewing(
    store: SqliteStore,
) -> None:
    clock = Clock()
    leases = _leases(store, clock, lease_seconds=3.0)
    assert not leases.surely_held()  # never renewed
    leases.lost(clock.now, lambda: [])
    clock.now += 1.9
    assert leases.surely_held()
    clock.now += 0.2
    assert not leases.surely_held()


def test_a_poll_names_instances_someone_else_wrote_to_or_purged(store: SqliteStore) -> None:
    clock = Clock()
    leases = _leases(store, clock, poll_interval=0.05)
    _create(store, "a")
    _create(store, "b")
    _create(store, "c", "COMPLETED")
    store.append("b", 1, [EventRow(0, "EventRaised", 2.0, "{}")], InstanceUpdate())
    assert store.purge(["c"]) == 1
    known = {"a": 1, "b": 1, "c": 1}
    assert sorted(leases.changed(clock.now, lambda: known)) == ["b", "c"]
    assert leases.changed(clock.now + 0.01, lambda: known) == []  # not due
    assert leases.changed(clock.now + 0.06, lambda: {"a": 1, "b": 2}) == []


def test_next_due_is_the_earliest_call_and_counts_polls_only_when_asked(
    store: SqliteStore,
) -> None:
    """Renewals are not the loop's (a thread of their own does them): only claims and
    polls are due for it."""
    clock = Clock()
    leases = _leases(store, clock, claim_interval=10.0, lease_seconds=30.0, poll_interval=0.05)
    leases.claimed(clock.now)
    leases.lost(clock.now, lambda: [])
    leases.changed(clock.now, lambda: {"x": 1})
    assert leases.next_due(polling=True) == pytest.approx(clock.now + 0.05)
    assert clock.now + 5.0 <= leases.next_due(polling=False) <= clock.now + 15.0


def test_a_claim_that_took_a_full_batch_claims_again_at_once(store: SqliteStore) -> None:
    """A backlog is taken batch after batch, not one batch per claim interval."""
    clock = Clock()
    leases = _leases(store, clock, claim_interval=60.0)
    for n in range(CLAIM_BATCH * 2 + 50):
        _create(store, f"i{n:03d}")
    batches = [len(leases.claimed(clock.now)) for _ in range(4)]
    assert batches == [CLAIM_BATCH, CLAIM_BATCH, 50, 0]  # the last was not full: wait


def test_an_engine_claims_only_up_to_a_batch_in_all_leaving_the_rest_to_others(
    store: SqliteStore,
) -> None:
    """Two workers on one backlog share it: the first to claim does not take it all,
    batch after batch, while the other starts; it tops up to one batch as it finishes."""
    clock = Clock()
    first = _leases(store, clock, claim_interval=60.0, poll_interval=0.05)
    for n in range(CLAIM_BATCH * 3):
        _create(store, f"i{n:03d}")
    assert len(first.claimed(clock.now, held=0)) == CLAIM_BATCH
    assert first.claimed(clock.now, held=CLAIM_BATCH) == []  # full: no claim, no read
    assert first.next_due(polling=False, looking=True) > clock.now  # and no busy loop
    assert len(first.claimed(clock.now + 0.1, held=CLAIM_BATCH - 30)) == 30
    second = Leases(store, new_owner(), first.settings, clock)
    assert len(second.claimed(clock.now + 0.1, held=0)) == CLAIM_BATCH


def test_instances_another_process_starts_are_claimed_at_the_next_look(
    store: SqliteStore,
) -> None:
    """Between claims (a minute apart here), a cheap look at each poll interval finds
    new free instances and claims them then."""
    clock = Clock()
    leases = _leases(store, clock, claim_interval=60.0, poll_interval=0.05)
    assert leases.claimed(clock.now) == []
    _create(store, "new")  # by another process
    assert leases.claimed(clock.now + 0.01) == []  # no look due yet
    assert leases.next_due(polling=False, looking=True) == pytest.approx(clock.now + 0.05)
    assert leases.claimed(clock.now + 0.06) == ["new"]
    assert leases.claimed(clock.now + 0.2) == []  # looked: nothing free, no claim


def test_a_busy_engine_leaves_new_work_to_idle_ones_until_its_next_round(
    store: SqliteStore,
) -> None:
    """The look between claims is for an engine with nothing to do: one that holds
    instances waits for its next claim round, so that an idle worker on the same store
    takes what another process starts (when both looked, the busy one, woken by its own
    commits, took nearly all: 39 of 40 instances in the two-worker test)."""
    clock = Clock()
    busy = _leases(store, clock, claim_interval=60.0, poll_interval=0.05)
    idle = _leases(store, clock, claim_interval=60.0, poll_interval=0.05)
    assert busy.claimed(clock.now, held=3) == [] and idle.claimed(clock.now) == []
    _create(store, "new")  # by another process
    assert busy.claimed(clock.now + 0.06, held=3) == []  # busy: no early look
    # and no look due before its next round either (a look left due made the loop spin)
    assert busy.next_due(polling=False, looking=True) > clock.now + 0.06
    assert idle.claimed(clock.now + 0.06) == ["new"]
    _create(store, "later")
    assert busy.claimed(clock.now + 91.0, held=3) == ["later"]  # its own round still comes
