"""Server-Sent Events of instances: ``GET /v1.0/wfkit/instances/{id}/stream``.

Every stream on one instance shares one :class:`InstanceFeed`, and every feed of the
server shares the runtime's :class:`~wfkit.runtime.changes.InstanceChanges`: one thread
waiting on the store's change notification (commits of this process at once, those of
workers elsewhere through the store), which wakes a feed only when its instance's
version moved. The feed then reads the events recorded since its last read, in a worker
thread for the time of that read, builds the body once, and wakes its streams. A stream
is a coroutine waiting on an :class:`asyncio.Event`: while nothing changes it costs no
thread and no store read, only a ``: ping`` comment every :data:`PING_SECONDS`. A client
that goes away cancels its coroutine; the last stream of a feed stops following its
instance, and the last feed stops the runtime's thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool

from wfkit.errors import InstanceNotFound
from wfkit.runtime.api import Instance, Runtime, SnapshotReader
from wfkit.runtime.changes import Follower
from wfkit.server.api_support import json_bytes
from wfkit.server.forms import instance_payload
from wfkit.server.limits import MAX_STREAMS, PING_SECONDS

__all__ = ["InstanceFeed", "StreamHub"]

_log = logging.getLogger(__name__)


class InstanceFeed:
    """One instance followed for all the streams on it: its latest body and version."""

    def __init__(self, runtime: Runtime, instance_id: str) -> None:
        self.instance_id = instance_id
        #: The history version of :attr:`body` (-1 before the first read).
        self.version = -1
        #: ``event: instance`` with the instance's JSON, as sent to every stream.
        self.body = b""
        self.terminal = False
        #: The instance was purged while followed.
        self.gone = False
        self.waiters: set[asyncio.Event] = set()
        #: Whether :attr:`follower` was handed to the runtime's change watcher.
        self.following = False
        self.follower = Follower(instance_id, lambda: self.version, self._changed)
        self._runtime = runtime
        self._reader: SnapshotReader = Instance(runtime, instance_id).follow()
        self._loop = asyncio.get_running_loop()
        self._lock = asyncio.Lock()
        self._dirty = False
        self._refreshing: asyncio.Task[None] | None = None

    def _changed(self) -> None:
        """The change watcher's call back, from its thread."""
        self._loop.call_soon_threadsafe(self._poke)

    def _poke(self) -> None:
        self._dirty = True
        if self._refreshing is None:
            self._refreshing = self._loop.create_task(self._refresh_while_dirty())

    async def _refresh_while_dirty(self) -> None:
        try:
            while self._dirty:
                self._dirty = False
                await self.refresh()
        finally:
            self._refreshing = None

    async def refresh(self, *, first: bool = False) -> None:
        """Read what was recorded since the last read and wake the streams when the
        instance changed. ``first``: let :class:`InstanceNotFound` out (the request
        names no instance); later, a purged instance ends the streams."""
        async with self._lock:
            if self.terminal or self.gone:
                return
            try:
                version, body, terminal = await run_in_threadpool(self._read)
            except InstanceNotFound:
                if first:
                    raise
                self.gone = True
            except Exception:
                if first:
                    raise
                _log.warning("reading instance %s failed", self.instance_id[:64], exc_info=True)
                return
            else:
                if version == self.version:
                    return
                self.version, self.body, self.terminal = version, body, terminal
            for waiter in self.waiters:
                waiter.set()

    def _read(self) -> tuple[int, bytes, bool]:
        snapshot = self._reader.read()
        row = self._runtime.workflows.get(self.instance_id)
        data = json_bytes(instance_payload(row, snapshot))
        return snapshot.version, b"event: instance\ndata: " + data + b"\n\n", snapshot.is_terminal


class StreamHub:
    """The feeds of a server's open streams, by instance id."""

    def __init__(self, runtime: Runtime, *, max_streams: int = MAX_STREAMS) -> None:
        self.runtime = runtime
        self.max_streams = max_streams
        #: Streams open now.
        self.open = 0
        self.feeds: dict[str, InstanceFeed] = {}
        #: The server is stopping: every stream ends, and no new one starts.
        self.closing = False

    @property
    def full(self) -> bool:
        """True when no stream can start now: :attr:`max_streams` are open (503), or
        the server is stopping."""
        return self.open >= self.max_streams or self.closing

    def close(self) -> None:
        """End every stream (the server is stopping; clients reconnect to the next one).
        Call it in the event loop."""
        self.closing = True
        for feed in tuple(self.feeds.values()):
            for waiter in feed.waiters:
                waiter.set()

    async def join(self, instance_id: str) -> tuple[InstanceFeed, asyncio.Event]:
        """The feed of ``instance_id`` (read once before the first stream on it) and a
        waiter set at each change; :class:`InstanceNotFound` when there is no instance.
        Pair with :meth:`leave`."""
        feed = self.feeds.get(instance_id)
        if feed is None:
            feed = self.feeds[instance_id] = InstanceFeed(self.runtime, instance_id)
        waiter = asyncio.Event()
        feed.waiters.add(waiter)
        self.open += 1
        try:
            if feed.version < 0:
                await feed.refresh(first=True)
            if not feed.following and not feed.terminal:
                feed.following = True
                await run_in_threadpool(self.runtime.changes.follow, feed.follower)
                await feed.refresh()  # what was committed between the read and the follow
        except BaseException:
            self.leave(feed, waiter)
            raise
        return feed, waiter

    def leave(self, feed: InstanceFeed, waiter: asyncio.Event) -> None:
        """A stream ended: forget its waiter, and the feed with its last stream."""
        if waiter in feed.waiters:
            feed.waiters.discard(waiter)
            self.open -= 1
        if not feed.waiters and self.feeds.get(feed.instance_id) is feed:
            del self.feeds[feed.instance_id]
            self.runtime.changes.leave(feed.follower)  # never blocks: the thread is not joined

    async def events(
        self, feed: InstanceFeed, waiter: asyncio.Event, *, ping: float = PING_SECONDS
    ) -> AsyncIterator[bytes]:
        """The stream's text: the instance now and after each change, ``event: end``
        once it is terminal (or purged), a ping comment when idle."""
        try:
            sent = -2
            while True:
                if feed.version != sent and feed.body:
                    sent = feed.version
                    yield feed.body
                if feed.terminal or feed.gone:
                    yield _end(feed)
                    return
                if self.closing:
                    yield b": the server is stopping\n\n"
                    return
                waiter.clear()
                if feed.version != sent or feed.terminal or feed.gone or self.closing:
                    continue  # changed while the last chunk was being sent
                with anyio.move_on_after(ping) as idle:
                    await waiter.wait()
                if idle.cancelled_caught:
                    yield b": ping\n\n"
        finally:
            self.leave(feed, waiter)


def _end(feed: InstanceFeed) -> bytes:
    said: dict[str, Any] = {"instanceID": feed.instance_id, "purged": feed.gone}
    return b"event: end\ndata: " + json_bytes(said) + b"\n\n"
