"""The Redis referral queue: streams and consumer groups, shared by any number of processes.

Layout (all keys under `rb:`; the store's namespaces must not be `queue` or `window`):

    rb:window:ref:<reference>   hash: `data` (the Referral as JSON), `version`, and
                                `stream` + `entry`: its current queue stream entry
    rb:window:key:<digest>      string: key_digest(draft.key) -> reference (idempotency)
    rb:queue:<queue>            stream, group `claims`: an entry (`ref`) per referral
                                waiting in or held from that queue
    rb:window:queues            set: the queues that have a stream
    rb:window:open:<queue>      zset: open referrals listed in the queue, by deadline
                                (an escalated one also in its district's)
    rb:window:closed:<queue>    zset: resolved referrals of the queue, by resolution time
    rb:window:due               zset: unclaimed and not yet escalated, by deadline
    rb:window:resolved          zset: resolved and not yet purged, by resolution time
    rb:window:outbox            stream, group `notifiers`: notification jobs
                                (`ref`, `event`, `queue`)

Claims are the `claims` group of the referral's queue stream. An entry is added when the
referral enters a queue (created, transferred). `claim` takes that very entry with
`XCLAIM … FORCE` (FORCE creates the pending entry for an entry never delivered, so a
staff member claims the referral they chose, not "the next one"); the pending entry then
belongs to consumer `staff:<id>`. Contact or resolution acknowledges it (XACK; resolving
and transferring also XDEL it). A referral taken over for someone is XCLAIMed for them
afresh (pending again, idle from then on); one taken back to the queue is acknowledged.
A claim never acknowledged — the staff member went away, or the process claiming
crashed — stays pending; `reclaim_abandoned` runs XAUTOCLAIM with
the claim timeout as minimum idle time (measured by the Redis server's clock), moving
such entries to consumer `reaper`, and returns each referral to `new` unless it changed
meanwhile (the script checks that the entry is still the reaper's).

Notification jobs use the stream the classic way: each process is a consumer of group
`notifiers` (XREADGROUP, blocking a second), acknowledges a job (XACK + XDEL) only after
sending and recording it, and takes over jobs left pending by a dead process for longer
than `job_timeout` (XAUTOCLAIM). A group that Redis lost (FLUSHALL, a failover to an empty
replica: every read answers NOGROUP) is made again, from the stream's start, so the jobs
written since are sent; a queue stream's `claims` group likewise.

Atomicity: every change is one Lua script (`COMMIT`). Python reads the referral, decides
with rules.py and sends the new JSON; the script applies it only if the stored version is
still the one read (else Python reads again: optimistic concurrency, so of 20 concurrent
claims one wins and 19 see it claimed), together with the stream, index and outbox
updates. `create` is the same script guarded by the idempotency key instead of a
version: a crash can never leave half a referral, and concurrent creates with one key
make one. Scripts run atomically and are logged to the AOF as a unit.
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import secrets
import socket
from typing import Any

from redis import exceptions as rx
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from bot.referrals import ANY_TOWNSHIP, NotFound, Referral
from bot.store import StoreUnavailable
from bot.store.redis import Turns
from integrations.window import rules
from integrations.window.base import Decide, Job, Window

log = logging.getLogger(__name__)

PREFIX = "rb:window"
QUEUES = f"{PREFIX}:queues"
DUE = f"{PREFIX}:due"
RESOLVED = f"{PREFIX}:resolved"
OUTBOX = f"{PREFIX}:outbox"
CLAIMS, NOTIFIERS, REAPER = "claims", "notifiers", "reaper"
UNREACHABLE = (rx.ConnectionError, rx.TimeoutError, rx.ReadOnlyError, OSError)  # and pool waits
MAX_TRIES = 100  # optimistic retries of one change (each lost race means another change won)
BLOCK_MS = 1000

COMMIT = """
local p = cjson.decode(ARGV[1])
local rec = p.record
if p.index ~= '' then
  local existing = redis.call('GET', p.index)
  if existing then return {'exists', existing} end
  if redis.call('EXISTS', rec) == 1 then return {'taken', ''} end
  redis.call('SET', p.index, p.ref)
else
  local stored = redis.call('HGET', rec, 'data')
  if not stored then return {'missing', ''} end
  if redis.call('HGET', rec, 'version') ~= p.expect then return {'stale', ''} end
end
local stream = redis.call('HGET', rec, 'stream')
local entry = redis.call('HGET', rec, 'entry')
if p.owner ~= '' then
  local pending = redis.call('XPENDING', stream, 'claims', entry, entry, 1)
  if #pending == 0 or pending[1][2] ~= p.owner then return {'moved', ''} end
end
if p.stream == 'claim' then
  redis.call('XCLAIM', stream, 'claims', p.consumer, 0, entry, 'FORCE', 'JUSTID')
elseif p.stream == 'ack' then
  redis.call('XACK', stream, 'claims', entry)
elseif p.stream == 'close' or p.stream == 'move' then
  redis.call('XACK', stream, 'claims', entry)
  redis.call('XDEL', stream, entry)
end
if p.stream == 'add' or p.stream == 'move' then
  redis.pcall('XGROUP', 'CREATE', p.to, 'claims', '0', 'MKSTREAM')
  entry = redis.call('XADD', p.to, '*', 'ref', p.ref)
  redis.call('HSET', rec, 'stream', p.to, 'entry', entry)
  redis.call('SADD', p.queues, p.queue)
end
redis.call('HSET', rec, 'data', ARGV[2], 'version', p.version)
for _, z in ipairs(p.zrem) do redis.call('ZREM', z[1], z[2]) end
for _, z in ipairs(p.zadd) do redis.call('ZADD', z[1], z[2], z[3]) end
for _, j in ipairs(p.jobs) do
  redis.call('XADD', p.outbox, '*', 'ref', p.ref, 'event', j[1], 'queue', j[2])
end
return {'ok', entry}
"""


def lost_group(error: rx.ResponseError) -> bool:
    """Redis has no such stream or group (it was flushed, or failed over to an empty replica)."""
    return str(error).startswith("NOGROUP")


def record_key(reference: str) -> str:
    return f"{PREFIX}:ref:{reference}"


def index_key(digest: str) -> str:
    return f"{PREFIX}:key:{digest}"


def stream_key(queue: str) -> str:
    return f"rb:queue:{queue}"


def open_key(queue: str) -> str:
    return f"{PREFIX}:open:{queue}"


def closed_key(queue: str) -> str:
    return f"{PREFIX}:closed:{queue}"


def stream_step(old: Referral | None, new: Referral) -> str:
    """What a change does to the referral's queue entry."""
    if old is None:
        return "add"
    if new.queue != old.queue:
        return "move"
    if new.status == "resolved" and old.status != "resolved":
        return "close"
    if new.status == "claimed" and (old.status != "claimed" or old.assignee != new.assignee):
        return "claim"  # claimed, or taken over for someone: pending for them, idle from now
    if old.status == "claimed" and new.status in ("contacted", "new"):
        return "ack"
    return ""


def index_steps(old: Referral | None, new: Referral) -> tuple[list[list[str]], list[list[str]]]:
    """(ZREM, ZADD) arguments keeping the listing, deadline and purge indexes right."""
    zrem: list[list[str]] = []
    zadd: list[list[str]] = []
    ref, deadline = new.reference, repr(new.deadline)
    for queue in rules.listed_in(old) - rules.listed_in(new):
        zrem.append([open_key(queue), ref])
    for queue in rules.listed_in(new):
        zadd.append([open_key(queue), deadline, ref])
    if rules.due(new):
        zadd.append([DUE, deadline, ref])
    elif rules.due(old):
        zrem.append([DUE, ref])
    if old is not None and old.status == "resolved" and old.queue != new.queue:
        zrem.append([closed_key(old.queue), ref])
    if new.status == "resolved" and new.resolved_at is not None:
        zadd.append([closed_key(new.queue), repr(new.resolved_at), ref])
        if new.purged_at is None:
            zadd.append([RESOLVED, repr(new.resolved_at), ref])
        else:
            zrem.append([RESOLVED, ref])
    return zrem, zadd


class RedisWindow(Window):
    def __init__(
        self,
        url: str,
        *,
        job_timeout: float = 300.0,
        retries: int = 3,
        socket_timeout: float = 5.0,
        max_connections: int = 32,
        pool_wait: float = 5.0,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        # A burst of calls waits in turn for one of `max_connections` (up to `pool_wait`
        # seconds, bot.store.redis.Turns) instead of failing with "too many connections"
        # as the default pool does.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_wait,
            decode_responses=True,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries),
            socket_timeout=socket_timeout,  # > BLOCK_MS: the notifier's blocking read
            socket_connect_timeout=1.0,
            health_check_interval=30,
        )
        self.client: Redis = Redis.from_pool(pool)
        self.turns = Turns(pool.max_connections, pool_wait)
        self._commit = self.client.register_script(COMMIT)
        self.job_timeout = job_timeout
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"

    # --- storage steps ---------------------------------------------------------------

    async def _insert(self, referral: Referral) -> tuple[Referral | None, bool]:
        outcome, value = await self._apply(None, referral, index=index_key(referral.key))
        if outcome == "ok":
            return referral, True
        if outcome == "taken":
            return None, False
        existing = await self._load(value)  # "exists": made by an earlier call with this key
        if existing is None:
            raise StoreUnavailable("referral index points to a missing record")
        return existing, False

    async def _change(
        self, reference: str, decide: Decide, **options: Any
    ) -> tuple[Referral, bool]:
        owner = str(options.get("owner", ""))
        for _ in range(MAX_TRIES):
            old = await self._load(reference)
            if old is None:
                raise NotFound(reference)
            new = decide(old, self.clock())
            if new is old:
                return old, False
            outcome, _ = await self._apply(old, new, owner=owner)
            if outcome == "ok":
                return new, True
            if outcome == "moved":  # the reaper's claim was overtaken: nothing to do
                return old, False
            if outcome == "missing":
                raise NotFound(reference)
        raise StoreUnavailable(f"referral {reference}: too many concurrent changes")

    async def _apply(
        self, old: Referral | None, new: Referral, *, index: str = "", owner: str = ""
    ) -> tuple[str, str]:
        step = stream_step(old, new)
        zrem, zadd = index_steps(old, new)
        control = {
            "record": record_key(new.reference),
            "ref": new.reference,
            "index": index,
            "expect": "" if old is None else str(old.version),
            "version": str(new.version),
            "owner": owner,
            "stream": step,
            "consumer": f"staff:{new.assignee}",
            "to": stream_key(new.queue),
            "queue": new.queue,
            "queues": QUEUES,
            "zrem": zrem,
            "zadd": zadd,
            "jobs": [list(job) for job in rules.jobs(old, new)],
            "outbox": OUTBOX,
        }
        data = json.dumps(new.to_dict(), ensure_ascii=False, separators=(",", ":"))
        args = [json.dumps(control, ensure_ascii=False), data]
        outcome, value = await self._call("commit", self._commit(args=args))
        return str(outcome), str(value)

    async def _load(self, reference: str) -> Referral | None:
        raw = await self._call("get", self.client.hget(record_key(reference), "data"))
        return None if raw is None else Referral.from_dict(json.loads(raw))

    async def _select(
        self, queues: set[str], statuses: set[str], limit: int
    ) -> builtins.list[Referral]:
        names = {q for q in queues if not q.endswith(ANY_TOWNSHIP)}
        prefixes = tuple(q[: -len(ANY_TOWNSHIP)] + "/" for q in queues if q.endswith(ANY_TOWNSHIP))
        if prefixes:
            known = await self._call("list", self.client.smembers(QUEUES))
            names |= {q for q in known if q.startswith(prefixes)}
        references: set[str] = set()
        pipe = self.client.pipeline(transaction=False)
        for name in sorted(names):
            if statuses & set(rules.OPEN_STATUSES):
                pipe.zrange(open_key(name), 0, -1)
            if "resolved" in statuses:
                pipe.zrevrange(closed_key(name), 0, limit - 1)
        for found in await self._call("list", pipe.execute()):
            references.update(found)
        if not references:
            return []
        pipe = self.client.pipeline(transaction=False)
        ordered = sorted(references)
        for reference in ordered:
            pipe.hget(record_key(reference), "data")
        rows = await self._call("list", pipe.execute())
        referrals = [Referral.from_dict(json.loads(raw)) for raw in rows if raw is not None]
        return [r for r in referrals if r.status in statuses]

    async def _due(self, now: float) -> builtins.list[str]:
        return builtins.list(await self._call("due", self.client.zrangebyscore(DUE, "-inf", now)))

    async def _stale_claims(self) -> builtins.list[tuple[str, Decide, dict[str, Any]]]:
        """XAUTOCLAIM every queue stream's claims idle longer than the claim timeout."""
        idle = max(1, round(self.claim_timeout * 1000))
        stale = []
        for queue in sorted(await self._call("reclaim", self.client.smembers(QUEUES))):
            stream, start = stream_key(queue), "0-0"
            while True:
                try:
                    start, entries, *_ = await self._call(
                        "reclaim",
                        self.client.xautoclaim(stream, CLAIMS, REAPER, idle, start, count=100),
                    )
                except rx.ResponseError as error:
                    if not lost_group(error):
                        raise
                    log.warning("claims group of a queue missing (Redis lost it): made again")
                    await self._create_group(stream, CLAIMS)
                    break
                stale += [fields["ref"] for entry_id, fields in entries if entry_id]
                if start == "0-0":
                    break

        def decide(referral: Referral, now: float) -> Referral:
            return rules.reclaim(referral, now, claimed_before=None)

        return [(ref, decide, {"owner": REAPER}) for ref in stale]

    async def _purgeable(self, cutoff: float) -> builtins.list[str]:
        return builtins.list(
            await self._call("purge", self.client.zrangebyscore(RESOLVED, "-inf", cutoff))
        )

    # --- notification jobs ---------------------------------------------------------------

    async def _prepare(self) -> None:
        await self._create_group(OUTBOX, NOTIFIERS)

    async def _create_group(self, stream: str, group: str) -> None:
        try:
            made = self.client.xgroup_create(stream, group, "0", mkstream=True)
            await self._call("prepare", made)
        except rx.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def _next_jobs(self, limit: int) -> builtins.list[Job]:
        try:
            return await self._read_jobs(limit)
        except rx.ResponseError as error:
            if not lost_group(error):
                raise
            log.warning("notification group missing (Redis flushed or failed over): made again")
            await self._prepare()
            return []

    async def _read_jobs(self, limit: int) -> builtins.list[Job]:
        """Jobs a dead notifier left pending too long first, then new ones (blocking 1 s)."""
        idle = max(1, round(self.job_timeout * 1000))
        _, entries, *_ = await self._call(
            "jobs", self.client.xautoclaim(OUTBOX, NOTIFIERS, self.consumer, idle, count=limit)
        )
        if not entries:
            read = await self._call(
                "jobs",
                self.client.xreadgroup(
                    NOTIFIERS, self.consumer, {OUTBOX: ">"}, count=limit, block=BLOCK_MS
                ),
            )
            entries = [entry for _, stream_entries in read or [] for entry in stream_entries]
        return [
            Job(entry_id, fields["ref"], fields["event"], fields["queue"])
            for entry_id, fields in entries
            if entry_id
        ]

    async def _job_done(self, job: Job) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.xack(OUTBOX, NOTIFIERS, job.id)
        pipe.xdel(OUTBOX, job.id)
        await self._call("job", pipe.execute())

    # --- plumbing ------------------------------------------------------------------------

    async def _call(self, op: str, call: Any) -> Any:
        try:
            return await self.turns.run(op, call)
        except UNREACHABLE as error:
            log.warning("redis unreachable during %s: %s", op, type(error).__name__)
            raise StoreUnavailable(f"redis unreachable during {op}") from error

    async def _close(self) -> None:
        await self.client.aclose()
