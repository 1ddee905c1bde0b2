"""The embedded default store: one SQLite file, for one server process.

Durability. WAL journal with `synchronous=FULL`: every commit fsyncs the WAL, so a `put`
that has returned survives a process kill -9 (NORMAL would too) and also a power cut or
an OS crash (NORMAL could lose the last commits). A lost delivery record means a
redelivered SMS is answered twice, a lost session makes an elderly resident answer again:
the fsync is worth it at a bot's write rate. bench/store_bench.py on the dev VM: put
2.3k/s alone (p99 1.6 ms) and 5.5k mixed ops/s with 50 tasks, against 6k/s and 18k/s
with NORMAL; one resident message costs about three writes.

Threading. sqlite3 blocks, so every statement runs on one dedicated thread (a
single-thread executor owning the one connection): measured about twice the throughput
of `asyncio.to_thread` for concurrent small reads and slightly lower latency alone
(bench/store_bench.py, "dispatch"), no lock needed around the connection, and all
statements of this process serialised, so each single-statement upsert is atomic.

Expiry. Times are absolute unix seconds from `clock` (injectable for tests), so a TTL
survives restarts. Reads ignore expired rows; writes purge them every `purge_interval`.

Locks. In-process leases per key: the holder's lease lapses after `timeout`, so an
abandoned holder cannot block a sender forever, exactly like Redis. Waiters queue in a
line per key and take the lease first come, first served: a newcomer arriving as the
lease is released never overtakes them. Leases exclude nothing in another process, so
`serve` and `chat` first `hold()` the data directory: an exclusive advisory lock
(`fcntl.flock`) on `<data dir>/residentbot.lock`, kept until `close()` and dropped by
the kernel when the process dies however it dies. A second process on the same
directory gets `DirectoryInUse` (two servers would both accept one delivery as new).
Short commands (`residentbot users`) do not hold it: they work beside a running server.

Units (`locked`). The lease, one thread call for the reads, and the writes in one
transaction: one fsync per message however many records it changes.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from bot.store import (
    Item,
    LockLost,
    LockTimeout,
    StoreUnavailable,
    Unit,
    Write,
    check_namespace,
    check_seconds,
    decode,
    encode,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

FILENAME = "store.sqlite3"
LOCK_FILENAME = "residentbot.lock"
SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires REAL,
    PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expires ON kv (expires) WHERE expires IS NOT NULL;
"""
LIVE = "(expires IS NULL OR expires > ?)"
GET = f"SELECT value FROM kv WHERE ns = ? AND key = ? AND {LIVE}"
PUT = """
INSERT INTO kv (ns, key, value, expires) VALUES (?, ?, ?, ?)
ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires = excluded.expires
"""
# The row is written when new or when the old one has expired; rowcount tells which.
ADD_ONCE = """
INSERT INTO kv (ns, key, value, expires) VALUES (?, ?, '{}', ?)
ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires = excluded.expires
WHERE kv.expires IS NOT NULL AND kv.expires <= ?
"""
# All SET expressions see the old row. A counter without expiry gets one (as on Redis).
INCR = """
INSERT INTO kv (ns, key, value, expires) VALUES (?, ?, '1', ?)
ON CONFLICT (ns, key) DO UPDATE SET
    value = CASE WHEN kv.expires <= ? THEN '1'
                 ELSE CAST(CAST(kv.value AS INTEGER) + 1 AS TEXT) END,
    expires = CASE WHEN kv.expires IS NULL OR kv.expires <= ? THEN excluded.expires
                   ELSE kv.expires END
RETURNING value
"""
PURGE = "DELETE FROM kv WHERE expires IS NOT NULL AND expires <= ?"


class DirectoryInUse(Exception):
    """Another process holds the data directory."""

    def __init__(self, directory: Path, holder: str) -> None:
        super().__init__(f"{directory} is in use by process {holder or '?'}")
        self.directory, self.holder = directory, holder


class EmbeddedStore:
    def __init__(
        self,
        directory: Path,
        *,
        clock: Callable[[], float] = time.time,
        synchronous: str = "FULL",
        purge_interval: float = 300.0,
        busy_timeout: float = 5.0,
    ) -> None:
        self.path = Path(directory) / FILENAME
        self.clock = clock
        self.synchronous = synchronous
        self.purge_interval = purge_interval
        self.busy_timeout = busy_timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="residentbot-store")
        self._db: sqlite3.Connection | None = None  # used only on the executor's thread
        self._last_purge = float("-inf")
        self._closed = False
        self._leases: dict[str, _Lease] = {}
        self._lines: dict[str, list[asyncio.Event]] = {}  # per key, the waiting, in order
        self._held: int | None = None  # the lock file's descriptor while `hold()` holds it

    # --- the records ------------------------------------------------------------------

    async def get(self, namespace: str, key: str) -> dict[str, Any] | None:
        check_namespace(namespace)
        row = await self._run(lambda db: db.execute(GET, (namespace, key, self.clock())).fetchone())
        return None if row is None else decode(namespace, row[0])

    async def put(
        self, namespace: str, key: str, value: dict[str, Any], ttl: float | None = None
    ) -> None:
        check_namespace(namespace)
        text = encode(value)
        expires = None if ttl is None else self.clock() + check_seconds("ttl", ttl)
        await self._write(lambda db: db.execute(PUT, (namespace, key, text, expires)))

    async def delete(self, namespace: str, key: str) -> None:
        check_namespace(namespace)
        await self._write(
            lambda db: db.execute("DELETE FROM kv WHERE ns = ? AND key = ?", (namespace, key))
        )

    async def add_once(self, namespace: str, key: str, ttl: float) -> bool:
        check_namespace(namespace)
        check_seconds("ttl", ttl)

        def add(db: sqlite3.Connection) -> bool:
            now = self.clock()
            return db.execute(ADD_ONCE, (namespace, key, now + ttl, now)).rowcount == 1

        return await self._write(add)

    async def incr(self, namespace: str, key: str, window: float) -> int:
        check_namespace(namespace)
        check_seconds("window", window)

        def incr(db: sqlite3.Connection) -> int:
            now = self.clock()
            rows = db.execute(INCR, (namespace, key, now + window, now, now)).fetchall()
            return int(rows[0][0])

        return await self._write(incr)

    # --- locks --------------------------------------------------------------------------

    def lock(
        self, key: str, timeout: float = 10.0, wait: float = 15.0
    ) -> AbstractAsyncContextManager[None]:
        return _LocalLock(self, key, check_seconds("timeout", timeout), wait)

    def locked(
        self, key: str, reads: Sequence[Item] = (), timeout: float = 10.0, wait: float = 15.0
    ) -> AbstractAsyncContextManager[Unit]:
        lock = _LocalLock(self, key, check_seconds("timeout", timeout), wait)
        return _EmbeddedUnit(self, lock, reads)

    async def _get_many(self, items: Sequence[Item]) -> list[str | None]:
        def read(db: sqlite3.Connection) -> list[str | None]:
            now = self.clock()
            rows = (db.execute(GET, (ns, key, now)).fetchone() for ns, key in items)
            return [None if row is None else row[0] for row in rows]

        return await self._run(read)

    async def _apply(self, writes: dict[Item, Write]) -> None:
        """The writes of a unit in one transaction."""

        def apply(db: sqlite3.Connection) -> None:
            now = self.clock()
            db.execute("BEGIN IMMEDIATE")
            try:
                for (ns, key), (text, ttl) in writes.items():
                    if text is None:
                        db.execute("DELETE FROM kv WHERE ns = ? AND key = ?", (ns, key))
                    else:
                        expires = None if ttl is None else now + ttl
                        db.execute(PUT, (ns, key, text, expires))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        await self._write(apply)

    # --- health and life cycle --------------------------------------------------------

    async def ping(self) -> bool:
        try:
            await self._run(lambda db: db.execute("SELECT 1").fetchone())
        except (StoreUnavailable, RuntimeError):
            return False
        return True

    def hold(self) -> None:
        """This process alone serves from the directory until `close()`; DirectoryInUse
        (naming the holder's process id) when another process already does."""
        if self._held is not None:
            return
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / LOCK_FILENAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise DirectoryInUse(directory, holder) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._held = fd

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._close_connection)
            self._executor.shutdown(wait=True)
        if self._held is not None:
            os.close(self._held)  # and with it the lock
            self._held = None

    def _close_connection(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # --- the thread -------------------------------------------------------------------

    async def _write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        def write(db: sqlite3.Connection) -> T:
            result = op(db)
            now = self.clock()
            if now - self._last_purge >= self.purge_interval:
                self._last_purge = now
                purged = db.execute(PURGE, (now,)).rowcount
                if purged:
                    log.info("purged %d expired store records", purged)
            return result

        return await self._run(write)

    async def _run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise RuntimeError("the store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, op)

    def _call(self, op: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return op(self._connection())
        except (sqlite3.OperationalError, OSError) as error:  # disk full, I/O, locked too long
            log.error("embedded store failed: %s", type(error).__name__)
            raise StoreUnavailable(f"embedded store: {error}") from error

    def _connection(self) -> sqlite3.Connection:
        """Opened on first use, creating the directory and the file."""
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path, isolation_level=None, timeout=self.busy_timeout,
                check_same_thread=False,
            )  # fmt: skip
            _into_wal(db, self.busy_timeout)
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            db.execute("PRAGMA secure_delete=ON")  # deleted sessions leave no text behind
            db.executescript(SCHEMA)
            self._db = db
        return self._db


def _into_wal(db: sqlite3.Connection, busy_timeout: float) -> None:
    """WAL mode (kept in the file once set). Switching a new file to it needs the file
    to itself and SQLite answers "database is locked" at once, without its busy wait,
    when another connection opens the same new file at that moment (a second instance,
    `residentbot users` beside a first start): try again until the busy timeout."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)  # on the store's own thread


class _EmbeddedUnit(Unit):
    """`async with store.locked(key, reads)`: a lease, then the writes in one transaction
    if the lease is still ours (it is pinned while they are written)."""

    def __init__(self, store: EmbeddedStore, lock: _LocalLock, reads: Sequence[Item]) -> None:
        super().__init__()
        self.store, self.lock, self.reads = store, lock, list(reads)

    async def __aenter__(self) -> Unit:
        await self.lock.__aenter__()
        try:
            if self.reads:
                await self.get_many(self.reads)
        except BaseException:
            await self.lock.__aexit__(None, None, None)
            raise
        return self

    async def _fetch(self, items: Sequence[Item]) -> Sequence[str | None]:
        return await self.store._get_many(items)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        lease = self.lock.lease
        try:
            if kind is None and self.writes:
                if lease is None or self.lock.leases.get(self.lock.key) is not lease:
                    raise LockLost("lock lapsed before the writes; nothing written")
                lease.expires = float("inf")  # nobody takes it over while we write
                await self.store._apply(self.writes)
        finally:
            await self.lock.__aexit__(kind, error, traceback)


@dataclass(eq=False)
class _Lease:
    expires: float  # time.monotonic()


class _LocalLock:
    """`async with store.lock(key)`: a lease in this process's table of leases, taken by
    the first in the key's line once it is free or has lapsed."""

    def __init__(self, store: EmbeddedStore, key: str, timeout: float, wait: float) -> None:
        self.leases, self.lines = store._leases, store._lines
        self.key, self.timeout, self.wait = key, timeout, wait
        self.lease: _Lease | None = None

    async def __aenter__(self) -> None:
        deadline = time.monotonic() + self.wait
        line = self.lines.setdefault(self.key, [])
        turn = asyncio.Event()  # set when it may be ours: the lease or the line changed
        line.append(turn)
        try:
            while True:
                now = time.monotonic()
                held = self.leases.get(self.key)
                if line[0] is turn and (held is None or held.expires <= now):
                    if held is not None:
                        log.warning("a lock lapsed after its timeout; taken over")
                    self.lease = _Lease(now + self.timeout)
                    self.leases[self.key] = self.lease
                    return
                remaining = deadline - now
                if remaining <= 0:
                    raise LockTimeout(f"lock not free within {self.wait:g} s")
                if line[0] is turn and held is not None:  # the first also looks at the lapse
                    remaining = min(remaining, held.expires - now)
                with suppress(TimeoutError):  # our turn, a lapse or the end of our wait
                    await asyncio.wait_for(turn.wait(), remaining)
                turn.clear()
        finally:
            line.remove(turn)
            if line:
                line[0].set()  # the next one looks again (and waits for the new lease)
            else:
                del self.lines[self.key]

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        lease, self.lease = self.lease, None
        if lease is None:
            return
        if self.leases.get(self.key) is not lease:
            log.warning("a lock was held past its timeout and had been taken over")
            return
        del self.leases[self.key]
        if self.key in self.lines:
            self.lines[self.key][0].set()
