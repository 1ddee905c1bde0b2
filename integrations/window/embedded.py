"""The embedded referral queue: its own SQLite file beside the store's, for one process.

`<data dir>/window.sqlite3`, WAL with `synchronous=FULL` like bot/store/embedded.py (a
referral that `create` returned survives a kill -9 or a power cut). Every statement runs
on one dedicated thread owning the one connection, and each operation is one
`BEGIN IMMEDIATE` transaction: read, decide (rules.py), write the referral and its
notification jobs. So a change is all or nothing (a crash mid-way leaves the previous
state), concurrent calls are serialised (one claim wins, one create per key), and the
same guarantees as on Redis hold for the one process that owns the data directory.

Tables: `referral` (the JSON record plus the columns the queries need) and `outbox`
(notification jobs; deleted once sent and recorded). A claim older than the claim
timeout on the queue's clock is "abandoned"; notification jobs in progress when the
process died are taken again at the next `start()`.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from bot.referrals import ANY_TOWNSHIP, LEVELS, NotFound, Referral
from bot.store import StoreUnavailable
from integrations.window import rules
from integrations.window.base import Decide, Job, Window

log = logging.getLogger(__name__)

T = TypeVar("T")

FILENAME = "window.sqlite3"
IN_PROGRESS = 1e18  # `leased_until` of a job being sent by this process
RETRY_JOB_AFTER = 30.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS referral (
    reference TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    queue TEXT NOT NULL,
    also_in TEXT,             -- the district queue that lists it too, once escalated
    status TEXT NOT NULL,
    rank INTEGER NOT NULL,    -- listing order: emergency 0, urgent 1, normal 2
    deadline REAL NOT NULL,
    created_at REAL NOT NULL,
    due INTEGER NOT NULL,     -- unclaimed and not escalated: waiting for its deadline
    claimed_at REAL,
    resolved_at REAL,
    purged INTEGER NOT NULL,
    data TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS referral_queue ON referral (queue, status);
CREATE INDEX IF NOT EXISTS referral_also_in ON referral (also_in) WHERE also_in IS NOT NULL;
CREATE INDEX IF NOT EXISTS referral_due ON referral (deadline) WHERE due = 1;
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reference TEXT NOT NULL,
    event TEXT NOT NULL,
    queue TEXT NOT NULL,
    leased_until REAL
);
"""
UPSERT = """
INSERT INTO referral (reference, key, queue, also_in, status, rank, deadline, created_at,
                      due, claimed_at, resolved_at, purged, data)
VALUES (:reference, :key, :queue, :also_in, :status, :rank, :deadline, :created_at,
        :due, :claimed_at, :resolved_at, :purged, :data)
ON CONFLICT (reference) DO UPDATE SET
    queue = excluded.queue, also_in = excluded.also_in, status = excluded.status,
    deadline = excluded.deadline, due = excluded.due, claimed_at = excluded.claimed_at,
    resolved_at = excluded.resolved_at, purged = excluded.purged, data = excluded.data
"""


def row_of(referral: Referral) -> dict[str, Any]:
    extra = rules.listed_in(referral) - {referral.queue}
    return {
        "reference": referral.reference,
        "key": referral.key,
        "queue": referral.queue,
        "also_in": next(iter(extra), None),
        "status": referral.status,
        "rank": LEVELS.index(referral.level),
        "deadline": referral.deadline,
        "created_at": referral.created_at,
        "due": int(rules.due(referral)),
        "claimed_at": referral.claimed_at,
        "resolved_at": referral.resolved_at,
        "purged": int(referral.purged_at is not None),
        "data": json.dumps(referral.to_dict(), ensure_ascii=False, separators=(",", ":")),
    }


def use_wal(db: sqlite3.Connection, wait: float = 5.0) -> None:
    """WAL is a property of the file; switching to it needs the file to itself, and
    SQLite answers "locked" at once (no busy wait) while another connection opens it."""
    deadline = time.monotonic() + wait
    while db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # on the queue's own thread, never the event loop's


def like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class EmbeddedWindow(Window):
    def __init__(self, directory: Path, *, synchronous: str = "FULL", **options: Any) -> None:
        super().__init__(**options)
        self.path = Path(directory) / FILENAME
        self.synchronous = synchronous
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="residentbot-window")
        self._db: sqlite3.Connection | None = None  # used only on the executor's thread
        self._closed = False
        self._jobs_waiting = asyncio.Event()

    # --- storage steps ---------------------------------------------------------------

    async def _insert(self, referral: Referral) -> tuple[Referral | None, bool]:
        def insert(db: sqlite3.Connection) -> tuple[Referral | None, bool]:
            row = db.execute("SELECT data FROM referral WHERE key = ?", (referral.key,)).fetchone()
            if row is not None:
                return Referral.from_dict(json.loads(row[0])), False
            if db.execute(
                "SELECT 1 FROM referral WHERE reference = ?", (referral.reference,)
            ).fetchone():
                return None, False
            self._write(db, None, referral)
            return referral, True

        stored, created = await self._transaction(insert)
        if created:
            self._wake_if_jobs(None, referral)
        return stored, created

    async def _change(
        self, reference: str, decide: Decide, **options: Any
    ) -> tuple[Referral, bool]:
        def change(db: sqlite3.Connection) -> tuple[Referral, Referral]:
            old = self._read(db, reference)
            if old is None:
                raise NotFound(reference)
            new = decide(old, self.clock())
            if new is not old:
                self._write(db, old, new)
            return old, new

        old, new = await self._transaction(change)
        self._wake_if_jobs(old, new)
        return new, new is not old

    async def _load(self, reference: str) -> Referral | None:
        return await self._run(lambda db: self._read(db, reference))

    async def _select(
        self, queues: set[str], statuses: set[str], limit: int
    ) -> builtins.list[Referral]:
        exact = sorted(q for q in queues if not q.endswith(ANY_TOWNSHIP))
        prefixes = sorted(q[: -len(ANY_TOWNSHIP)] + "/" for q in queues if q.endswith(ANY_TOWNSHIP))
        marks = ",".join("?" * len(exact))
        where = [f"queue IN ({marks})", f"also_in IN ({marks})"]
        where += ["queue LIKE ? ESCAPE '\\'"] * len(prefixes)
        chosen = sorted(statuses)
        sql = (
            f"SELECT data FROM referral WHERE status IN ({','.join('?' * len(chosen))}) "
            f"AND ({' OR '.join(where)}) ORDER BY rank, deadline, created_at, reference LIMIT ?"
        )
        args = [*chosen, *exact, *exact, *(like_prefix(p) for p in prefixes), limit]
        rows = await self._run(lambda db: db.execute(sql, args).fetchall())
        return [Referral.from_dict(json.loads(row[0])) for row in rows]

    async def _due(self, now: float) -> builtins.list[str]:
        sql = "SELECT reference FROM referral WHERE due = 1 AND deadline <= ? ORDER BY deadline"
        rows = await self._run(lambda db: db.execute(sql, (now,)).fetchall())
        return [row[0] for row in rows]

    async def _stale_claims(self) -> builtins.list[tuple[str, Decide, dict[str, Any]]]:
        before = self.clock() - self.claim_timeout
        sql = "SELECT reference FROM referral WHERE status = 'claimed' AND claimed_at <= ?"
        rows = await self._run(lambda db: db.execute(sql, (before,)).fetchall())

        def decide(referral: Referral, now: float) -> Referral:
            return rules.reclaim(referral, now, claimed_before=now - self.claim_timeout)

        return [(row[0], decide, {}) for row in rows]

    async def _purgeable(self, cutoff: float) -> builtins.list[str]:
        sql = ("SELECT reference FROM referral WHERE status = 'resolved' AND purged = 0 "
               "AND resolved_at <= ?")  # fmt: skip
        rows = await self._run(lambda db: db.execute(sql, (cutoff,)).fetchall())
        return [row[0] for row in rows]

    # --- notification jobs ---------------------------------------------------------------

    async def _erase_old_copies(self) -> None:
        """The WAL still holds the pages as they were before the purge: copy it into the
        file and truncate it."""
        await self._run(lambda db: db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())

    async def _prepare(self) -> None:
        """Jobs this data directory's previous process had in hand are taken again."""
        await self._run(
            lambda db: db.execute(
                "UPDATE outbox SET leased_until = NULL WHERE leased_until >= ?", (IN_PROGRESS,)
            )
        )
        self._jobs_waiting.set()

    async def _next_jobs(self, limit: int) -> builtins.list[Job]:
        jobs = await self._lease(limit)
        if jobs:
            return jobs
        self._jobs_waiting.clear()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._jobs_waiting.wait(), 1.0)
        return await self._lease(limit)

    async def _lease(self, limit: int) -> builtins.list[Job]:
        sql = """
        UPDATE outbox SET leased_until = ? WHERE id IN (
            SELECT id FROM outbox WHERE leased_until IS NULL OR leased_until <= ?
            ORDER BY id LIMIT ?)
        RETURNING id, reference, event, queue
        """
        rows = await self._run(
            lambda db: db.execute(sql, (IN_PROGRESS, self.clock(), limit)).fetchall()
        )
        return [Job(str(r[0]), r[1], r[2], r[3]) for r in sorted(rows)]

    async def _job_done(self, job: Job) -> None:
        await self._run(lambda db: db.execute("DELETE FROM outbox WHERE id = ?", (int(job.id),)))

    async def _job_failed(self, job: Job) -> None:
        again = self.clock() + RETRY_JOB_AFTER
        await self._run(
            lambda db: db.execute(
                "UPDATE outbox SET leased_until = ? WHERE id = ?", (again, int(job.id))
            )
        )

    def _wake_if_jobs(self, old: Referral | None, new: Referral) -> None:
        if new is not old and rules.jobs(old, new):
            self._jobs_waiting.set()

    # --- the thread --------------------------------------------------------------------

    def _read(self, db: sqlite3.Connection, reference: str) -> Referral | None:
        row = db.execute("SELECT data FROM referral WHERE reference = ?", (reference,)).fetchone()
        return None if row is None else Referral.from_dict(json.loads(row[0]))

    def _write(self, db: sqlite3.Connection, old: Referral | None, new: Referral) -> None:
        db.execute(UPSERT, row_of(new))
        for event, queue in rules.jobs(old, new):
            db.execute(
                "INSERT INTO outbox (reference, event, queue) VALUES (?, ?, ?)",
                (new.reference, event, queue),
            )

    async def _transaction(self, op: Any) -> Any:
        def run(db: sqlite3.Connection) -> Any:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = op(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

        return await self._run(run)

    async def _run(self, op: Any) -> Any:
        if self._closed:
            raise RuntimeError("the referral queue is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(self._call, op))

    def _call(self, op: Any) -> Any:
        try:
            return op(self._connection())
        except (sqlite3.OperationalError, OSError) as error:  # disk full, I/O, locked too long
            log.error("referral queue database failed: %s", type(error).__name__)
            raise StoreUnavailable(f"referral queue: {type(error).__name__}") from error

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            use_wal(db)
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            db.execute("PRAGMA secure_delete=ON")  # a purge leaves no old text in free pages
            db.executescript(SCHEMA)
            self._db = db
        return self._db

    async def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close_connection)
        self._executor.shutdown(wait=True)

    def _close_connection(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
