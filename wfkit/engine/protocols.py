"""What the engine is handed: a Store, a StepRunner and Hooks, as small protocols.

The engine never imports a backend. Stores see plain data (strings, numbers, JSON text)
and know nothing of steps or definitions; runners see one task at a time. Everything
here is plain data so that one contract test suite can run against every backend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from wfkit.engine.messages import (
    EventRow,
    InstanceRow,
    InstanceUpdate,
    Owner,
    StoreSpace,
    TaskOutcome,
    TaskSpec,
)
from wfkit.errors import VersionConflict

__all__ = [
    "EventRow",
    "Hook",
    "InstanceRow",
    "InstanceUpdate",
    "Owner",
    "StepRunner",
    "Store",
    "StoreSpace",
    "TaskOutcome",
    "TaskSpec",
    "VersionConflict",
]


class Store(Protocol):
    """Durable instances and their histories. Every method is one transaction.

    Implemented by :mod:`wfkit.store.sqlite` and, for engines on several machines,
    :mod:`wfkit.store.postgres`; both pass the same contract tests (``tests/store``).
    Terminal statuses are COMPLETED, FAILED, TERMINATED and CANCELED.

    Times in rows and events are the caller's (the engine's clock). Lease ends are the
    store's own: ``claim``, ``renew``, ``create(owner=...)`` and ``has_free`` take a
    duration (``lease_seconds``) and time it by the store's clock, which for PostgreSQL
    is the database's ``now()``, shared by every machine.
    """

    def save_definition(self, definition_hash: str, name: str, text: str) -> None:
        """Keep a definition's text under its hash (idempotent)."""

    def load_definition(self, definition_hash: str) -> tuple[str, str] | None:
        """``(name, text)`` of a saved definition, or None."""

    def create(
        self,
        row: InstanceRow,
        events: Sequence[EventRow],
        *,
        owner: Owner | None = None,
        lease_seconds: float = 0.0,
    ) -> None:
        """Create an instance with its first events (numbered 1, 2, ...; the version is
        their count, whatever ``row.version`` and the events' ``seq`` say).

        With ``owner``, the instance is created claimed by it, leased for
        ``lease_seconds`` (as :meth:`claim` would leave it): an engine that starts an
        instance itself stores it, its lease and its first decision in one transaction.
        An existing instance with the same id is replaced (with its history) when it is
        terminal; when it is not, raise :class:`wfkit.errors.InstanceAlreadyExists`.
        """

    def get(self, instance_id: str) -> InstanceRow | None:
        """The instance, or None."""

    def history(self, instance_id: str, after: int = 0) -> list[EventRow]:
        """Events with ``seq > after``, in order."""

    def append(
        self,
        instance_id: str,
        expected_version: int,
        events: Sequence[EventRow],
        update: InstanceUpdate,
    ) -> int:
        """Append events (numbered ``expected_version + 1 ...``) and update the instance.
        An update to a terminal status also releases the instance (no owner, no lease)
        in the same transaction.

        Raises :class:`VersionConflict` when the stored version is not
        ``expected_version`` (or the instance is gone); returns the new version.
        """

    def append_many(
        self,
        batch: Sequence[tuple[str, int, Sequence[EventRow], InstanceUpdate]],
        *,
        owner: Owner | None = None,
    ) -> list[str]:
        """Several appends in one transaction; returns the ids that conflicted (those are
        not written, the others are).

        With ``owner``, an instance that another owner holds now (or that no owner
        holds) conflicts too, in the same transaction that would write it: an engine
        whose lease lapsed and was taken over records nothing more for that instance,
        even before the new owner writes anything."""

    def list_instances(
        self,
        *,
        status: Sequence[str] = (),
        name: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> list[InstanceRow]:
        """Instances, newest first, filtered; ``after`` is the last id of the previous page
        (an unknown ``after`` raises :class:`wfkit.errors.InstanceNotFound`)."""

    def children(self, instance_id: str) -> list[str]:
        """Ids of the instances whose parent is ``instance_id``."""

    def purge(self, instance_ids: Sequence[str]) -> int:
        """Delete terminal instances and their histories, checking the status in the same
        transaction (a non-terminal one is left alone); returns how many were deleted."""

    def claim(
        self,
        owner: Owner,
        lease_seconds: float,
        limit: int = 100,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Take ownership of non-terminal instances that are unowned, whose lease has
        expired, or whose owner is a process on this host that no longer exists; returns
        the ids newly claimed. With ``ids``, only those instances are considered.

        The owner a claim takes an instance from becomes its ``last_owner``, with the
        time its hold ended (its lease's end, or now if that is later than now)."""

    def has_free(self) -> bool:
        """Whether some non-terminal instance is unowned or its lease has run out: a
        cheap read (no write lock), asked often, that says a :meth:`claim` would find
        work (instances of dead processes are left to the claim itself)."""

    def renew(self, owner: Owner, instance_ids: Sequence[str], lease_seconds: float) -> list[str]:
        """Extend the leases still held; returns the ids still owned."""

    def release(self, owner: Owner, instance_ids: Sequence[str]) -> None:
        """Give instances up (on close, or when they become terminal); the owner becomes
        their ``last_owner``, until now."""

    def versions(self, instance_ids: Sequence[str]) -> dict[str, int]:
        """The current version of each instance that exists."""

    def wait_for_change(self, timeout: float, after: int | None = None) -> int:
        """A change token: with ``after`` None, the token now (at once); otherwise block
        until something is committed to the store after the call that returned
        ``after`` (then return the new token), or for ``timeout`` seconds (then return a
        token that may equal ``after``).

        Tokens are opaque numbers compared for equality only, valid for this store
        object. A changed token says "look again", never what changed, and may change
        without a visible change (waiters re-read). The pattern: ``token =
        wait_for_change(0)``, read what matters, then ``wait_for_change(t, after=token)``.
        A commit of this process must wake a waiter at once; another process's within
        about the engine's poll interval. SQLite: an in-process condition, plus ``PRAGMA
        data_version`` for other processes; PostgreSQL: ``LISTEN``/``NOTIFY`` (every
        commit notifies a channel; a listening connection bumps the token)."""

    def find_ended(
        self, *, statuses: Sequence[str] = (), before: float, limit: int = 500, after: int = 0
    ) -> tuple[list[str], int]:
        """Up to about ``limit`` ids of terminal instances with one of ``statuses`` (any
        terminal one when empty) last updated before ``before``, from position ``after``
        (0 at first); returns them and the position to go on from (0: the walk is over).
        Each call reads a bounded stretch, so that a whole walk is linear."""

    def reclaim(self, *, full: bool = False) -> StoreSpace:
        """Give space that purges freed back to the disk (``full``: the thorough way,
        which may hold the store for longer); returns the space after."""

    def space(self) -> StoreSpace:
        """How big the store is, and how much of it is free."""

    def close(self) -> None:
        """Release connections."""


class StepRunner(Protocol):
    """Runs tasks of the kinds it knows (call, shell, notebook) off the engine's thread.

    Runners are chosen by name (the ``runner`` setting; ``wfkit.steps.RUNNERS``) and
    handed to the engine, which never imports one. A step may name its own runner (its
    ``runner`` key, copied into :attr:`TaskSpec.runner`); the engine does not read it:
    the runtime hands the engine a routing runner (``wfkit.steps.RoutingRunner``) that
    sends each task to the runner it names, opened on first need.

    **The ``done`` callback.** ``submit(task, done)`` must lead to exactly one call of
    ``done(task, outcome)`` (unless the task is cancelled or dropped by :meth:`drain`),
    and the engine's ``done`` is its thread-safe entry for results:

    * It may be called from any thread, typically the worker thread that ran the task,
      but never from inside :meth:`submit` (the submitting thread holds the engine's
      re-entrant decision lock: a result reported there would be decided in the middle
      of another decision) and never while holding a lock that :meth:`submit`,
      :meth:`cancel` or :meth:`queued` takes. A task that ends at once is reported after
      ``submit`` has returned.
    * It may decide and commit there (flat combining, see
      :mod:`wfkit.engine.loop.engine`): when no other thread is deciding and no other
      task waits, it folds the result, commits to the store (I/O, milliseconds on a
      networked store), calls the hooks, and submits the next tasks from inside the call
      (so :meth:`submit` must accept calls from within ``done``). It may therefore block
      for as long as a commit takes.
    * A runner whose results arrive as callbacks on an event loop of its own (a Dask
      client's ``add_done_callback``, an asyncio future) must not call ``done`` on that
      loop's thread: a commit there stalls every other result of the loop. It hands them
      to a thread of its own (a queue drained by one or a few threads) that calls
      ``done``; the engine then batches results that arrive together into one commit.
    """

    @property
    def workers(self) -> int:
        """How many tasks it runs at once (its slots, at least 1): the engine hands it
        about three times as many and keeps the rest of a wide ``foreach`` itself."""

    def kinds(self) -> frozenset[str]:
        """The step kinds this runner can run."""

    def submit(self, task: TaskSpec, done: Callable[[TaskSpec, TaskOutcome], None]) -> None:
        """Start ``task``; call ``done`` exactly once, from any thread but after this
        call has returned (see the class docstring), unless cancelled."""

    def queued(self) -> int:
        """How many submitted tasks wait for a free worker (a hint: it may be stale)."""

    def unfinished(self) -> int:
        """How many submitted tasks have not ended yet (running or waiting for a worker):
        what a graceful stop says it waits for."""

    def cancel(self, instance_id: str) -> None:
        """Stop every running task of an instance: kill subprocesses, abandon threads
        (their results are then never reported)."""

    def drain(self, timeout: float) -> bool:
        """Drop the tasks that wait for a worker (never reported) and wait up to
        ``timeout`` seconds for the running ones to end and report; True when none is
        left."""

    def close(self) -> None:
        """Stop accepting work and cancel what runs."""


Hook = Callable[..., None]
"""A listener: called with keyword arguments only (``instance_id``, ``events``,
``status``, and more in later versions), so it must accept ``**future_kwargs``.

Called after each commit, on the thread that committed (the engine's loop thread or a
step worker thread), while the instance's ``state`` cannot change: copy what you need
and return quickly, since the next step of the instance waits for it."""
