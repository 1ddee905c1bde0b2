"""The Redis store, shared by any number of server processes (`REDIS_URL`).

Keys are `rb:<namespace>:<key>`, locks `rb:lock:<key>` and their lines
`rb:lock/line:<key>` (a namespace has no '/', so no record can have that name). Values
are compact UTF-8 JSON (no spaces, no \\uXXXX escapes): an idle 10-answer session takes
well under 2 KB (`MEMORY USAGE`, bench/store_bench.py).

- `add_once`: `SET NX PX`, atomic on the server, so across processes.
- `incr`: INCR and, when the key has no expiry yet, PEXPIRE, in one Lua script, so a
  counter can never be left without its window.
- `locked`: the lock (below), taken by a script that also returns the unit's first
  reads (one round trip); the writes and the release are one more script, which writes
  only while the token is still ours. A message is two round trips, three with more
  reads. (The keys of one script must be in one slot on Redis Cluster: see
  docs/DEPLOY.md.)

Locks (`lock`, `locked`), first come, first served across processes. A lock is
`rb:lock:<key>` holding a random token, with PX `timeout` (10 s), so a crashed holder's
lock lapses. No extension: 10 s is far above one message's work. It is released by a
Lua compare-and-delete, so a holder whose lease lapsed never deletes its successor's
lock. Each attempt to take it is one script call:
- the lock is free and nobody waits: it is ours;
- else we get (or keep) a place at the end of the lock's line `rb:lock/line:<key>`, a
  sorted set of tokens by arrival, and ask again after a short pause (growing to
  0.1 s) until `wait` is over (`LockTimeout`);
- a caller that finds the lock free while someone else is first in line hands it to
  that one for `PLACE` (2 s): it sets the lock to their token and takes them out of
  the line. So whoever asks first after a release cannot overtake, the first in line
  finds its own token in the lock when it asks again and takes it for `timeout`, and
  a waiter that died is passed over after `PLACE`. The line lapses `PLACE` after its
  last caller.
Asking again with our own token keeps our place, or our lock: redis-py retries a call
whose reply was lost.

Given-up tokens. A lock call that failed on our side (timed out, connection lost) may
still be queued in a stalled Redis and take the lock when it runs, for a token nobody
will release; a waiter that gives up (`LockTimeout`, cancelled) leaves its place in the
line. So every token given up, and every lock whose release failed, is released in the
background once Redis answers a PING sent after the failure: Redis answers only after
running every command that reached it before, so the release comes after any such
stale call.

Calls take turns (`Turns`): at most `max_connections` at once, the others served first
come, first served for up to `pool_wait` seconds, then `StoreUnavailable` (503).

Connection errors and timeouts are retried by redis-py (`Retry` with
`ExponentialBackoff`, a fresh connection each time), then raised as `StoreUnavailable`.
Socket timeouts bound every call, so a dead or hung server makes the store fail fast
rather than hang; once the server is back the pool simply reconnects.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Sequence
from contextlib import AbstractAsyncContextManager, suppress
from types import TracebackType
from typing import Any, TypeVar

from redis import exceptions as rx
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from bot.store import (
    Item,
    LockLost,
    LockTimeout,
    StoreUnavailable,
    Unit,
    check_namespace,
    check_seconds,
    decode,
    encode,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

PREFIX = "rb"
UNREACHABLE = (rx.ConnectionError, rx.TimeoutError, rx.ReadOnlyError, OSError)
PLACE = 2.0  # seconds a free lock is kept for the first in line; the line's life after a call
ABANDONED_MAX = 10_000  # tokens to release later; beyond, a token lapses after its timeout
INCR_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
"""
# KEYS: the lock, its line, then records to read. ARGV: token, PX, PLACE in ms. Nil while
# the lock is someone else's (and we keep, or take, a place in the line); else the records'
# values. Asking again with our own token keeps our place, or our lock (a retried call).
ACQUIRE_SCRIPT = """
local token = ARGV[1]
local holder = redis.call('GET', KEYS[1])
if not holder then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if first and first ~= token then
    redis.call('ZREM', KEYS[2], first)
    redis.call('SET', KEYS[1], first, 'PX', ARGV[3])
    holder = first
  end
end
if holder and holder ~= token then
  if not redis.call('ZSCORE', KEYS[2], token) then
    local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')[2]
    redis.call('ZADD', KEYS[2], (tonumber(last) or 0) + 1, token)
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return false
end
redis.call('ZREM', KEYS[2], token)
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
if #KEYS == 2 then return {} end
return redis.call('MGET', unpack(KEYS, 3))
"""
# KEYS: the lock, its line. ARGV: token. Deletes the lock if it is ours, and our place.
RELEASE_SCRIPT = """
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS: the lock, then records to write. ARGV: token, then per record its value ('' to
# delete) and PX ('0': no expiry). 0 (nothing written) unless the lock is still ours.
COMMIT_SCRIPT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 2, #KEYS do
  local value, px = ARGV[2 * i - 2], ARGV[2 * i - 1]
  if value == '' then redis.call('DEL', KEYS[i])
  elseif px == '0' then redis.call('SET', KEYS[i], value)
  else redis.call('SET', KEYS[i], value, 'PX', px) end
end
redis.call('DEL', KEYS[1])
return 1
"""


def key_of(namespace: str, key: str) -> str:
    return f"{PREFIX}:{check_namespace(namespace)}:{key}"


def lock_keys(key: str) -> tuple[str, str]:
    """The lock and its line."""
    return f"{PREFIX}:lock:{key}", f"{PREFIX}:lock/line:{key}"


def millis(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class Turns:
    """Redis calls in turn: at most `size` at once, the others served first come, first
    served, each waiting at most `wait` seconds, then `StoreUnavailable` (the webhook
    answers 503 and the gateway delivers the message again).

    redis-py's BlockingConnectionPool waits too, but not in turn: a caller woken for a
    released connection can lose it to a newcomer and goes back to the end of the line.
    With 500 residents at once on a pool of 50, a few messages waited 3 s while most
    waited 0.3 s (bench/load_bench.py). asyncio.Semaphore queues newcomers behind those
    already waiting, so nobody is overtaken."""

    def __init__(self, size: int, wait: float) -> None:
        self._free = asyncio.Semaphore(size)
        self.wait = wait

    async def run(self, op: str, call: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.wait):
                await self._free.acquire()
        except TimeoutError:
            if inspect.iscoroutine(call):
                call.close()  # never started
            log.warning("no redis connection free within %g s for %s", self.wait, op)
            raise StoreUnavailable(f"no redis connection free for {op}") from None
        try:
            return await call
        finally:
            self._free.release()


class RedisStore:
    def __init__(
        self,
        url: str,
        *,
        retries: int = 3,
        socket_timeout: float = 2.0,
        connect_timeout: float = 1.0,
        max_connections: int = 50,
        pool_wait: float = 5.0,
    ) -> None:
        # A burst of more calls than connections waits in turn (up to `pool_wait`) for one
        # to be free instead of failing: redis-py's default pool raises at once, which
        # under load turned residents' messages into 503s. max_connections in the URL wins.
        # The pool blocks too, for calls made outside `_call` (ping).
        pool = BlockingConnectionPool.from_url(
            url,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries),
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            max_connections=max_connections,
            timeout=pool_wait,
            health_check_interval=30,
        )
        self.client: Redis = Redis.from_pool(pool)  # closing the client closes the pool
        self.turns = Turns(pool.max_connections, pool_wait)
        self._incr = self.client.register_script(INCR_SCRIPT)
        self._release = self.client.register_script(RELEASE_SCRIPT)
        self._acquire = self.client.register_script(ACQUIRE_SCRIPT)
        self._commit = self.client.register_script(COMMIT_SCRIPT)
        self._abandoned: set[tuple[str, str, bytes]] = set()  # (lock, line, token)
        self._releaser: asyncio.Task[None] | None = None

    async def get(self, namespace: str, key: str) -> dict[str, Any] | None:
        raw = await self._call("get", namespace, self.client.get(key_of(namespace, key)))
        return None if raw is None else decode(namespace, raw)

    async def put(
        self, namespace: str, key: str, value: dict[str, Any], ttl: float | None = None
    ) -> None:
        name, data = key_of(namespace, key), encode(value).encode()
        px = None if ttl is None else millis(check_seconds("ttl", ttl))
        await self._call("put", namespace, self.client.set(name, data, px=px))

    async def delete(self, namespace: str, key: str) -> None:
        await self._call("delete", namespace, self.client.delete(key_of(namespace, key)))

    async def add_once(self, namespace: str, key: str, ttl: float) -> bool:
        name, px = key_of(namespace, key), millis(check_seconds("ttl", ttl))
        return bool(
            await self._call("add_once", namespace, self.client.set(name, b"{}", nx=True, px=px))
        )

    async def incr(self, namespace: str, key: str, window: float) -> int:
        name, px = key_of(namespace, key), millis(check_seconds("window", window))
        return int(await self._call("incr", namespace, self._incr(keys=[name], args=[px])))

    def lock(
        self, key: str, timeout: float = 10.0, wait: float = 15.0
    ) -> AbstractAsyncContextManager[None]:
        return _RedisLock(self, key, check_seconds("timeout", timeout), wait)

    def locked(
        self, key: str, reads: Sequence[Item] = (), timeout: float = 10.0, wait: float = 15.0
    ) -> AbstractAsyncContextManager[Unit]:
        return _RedisUnit(_RedisLock(self, key, check_seconds("timeout", timeout), wait), reads)

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (*UNREACHABLE, rx.RedisError):
            return False

    async def close(self) -> None:
        if self._releaser is not None:
            self._releaser.cancel()  # what is left lapses after its timeout
            with suppress(asyncio.CancelledError):
                await self._releaser
        await self.client.aclose()

    def _abandon(self, names: tuple[str, str], token: bytes) -> None:
        """Release `token`'s lock and place in the background once Redis answers again
        (module docstring, "Given-up tokens")."""
        if len(self._abandoned) >= ABANDONED_MAX:
            return
        self._abandoned.add((*names, token))
        if self._releaser is None or self._releaser.done():
            self._releaser = asyncio.get_running_loop().create_task(self._release_abandoned())

    async def _release_abandoned(self) -> None:
        pause = 0.05
        while self._abandoned:
            given_up = list(self._abandoned)
            if await self.ping():  # sent after they were given up: their calls have run
                for item in given_up:
                    lock, line, token = item
                    try:
                        await self._call("unlock", "lock", self._release([lock, line], [token]))
                    except StoreUnavailable:
                        break
                    except rx.RedisError as error:
                        log.warning("given-up lock not released: %s", type(error).__name__)
                    self._abandoned.discard(item)
                else:
                    continue
            await asyncio.sleep(pause)
            pause = min(2 * pause, 0.5)

    async def _call(self, op: str, namespace: str, call: Awaitable[T]) -> T:
        """Await one command in turn; unreachable after redis-py's retries, or no
        connection free in time -> StoreUnavailable."""
        try:
            return await self.turns.run(f"{op}({namespace})", call)
        except UNREACHABLE as error:
            log.warning("redis unreachable during %s(%s): %s", op, namespace, type(error).__name__)
            raise StoreUnavailable(f"redis unreachable during {op}({namespace})") from error


class _RedisLock:
    """`async with store.lock(key)`: the lock with a random token, first come, first served
    (module docstring)."""

    def __init__(self, store: RedisStore, key: str, timeout: float, wait: float) -> None:
        self.store, self.timeout, self.wait = store, timeout, wait
        self.names = lock_keys(key)
        self.token: bytes | None = None

    async def __aenter__(self) -> None:
        await self.take()

    async def take(self, reads: Sequence[str] = ()) -> list[bytes | None]:
        """Wait in line for the lock; with it, the raw values of the records `reads`."""
        token = secrets.token_hex(16).encode()
        keys = [*self.names, *reads]
        args: list[bytes | int] = [token, millis(self.timeout), millis(PLACE)]
        deadline = time.monotonic() + self.wait
        pause = 0.005
        try:
            while True:
                values = await self.store._call(
                    "lock", "lock", self.store._acquire(keys=keys, args=args)
                )
                if values is not None:
                    self.token = token
                    return list(values)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LockTimeout(f"lock not free within {self.wait:g} s")
                await asyncio.sleep(min(remaining, pause * random.uniform(0.5, 1.5)))
                pause = min(pause * 2, 0.1)
        except BaseException:  # timed out, unreachable or cancelled: give our place back
            self.store._abandon(self.names, token)
            raise

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        token, self.token = self.token, None
        if token is None:
            return
        try:
            released = await self.store._call(
                "unlock", "lock", self.store._release(keys=self.names, args=[token])
            )
        except StoreUnavailable:
            # The body's outcome stands; the lock is released once Redis answers again.
            self.store._abandon(self.names, token)
            log.warning("lock not released (redis unreachable); released once it answers")
            return
        if not released:
            log.warning("a lock was held past its timeout and had been taken over")


class _RedisUnit(Unit):
    """`async with store.locked(key, reads)`: one script takes the lock and reads, one
    writes and releases it."""

    def __init__(self, lock: _RedisLock, reads: Sequence[Item]) -> None:
        super().__init__()
        self.lock, self.store = lock, lock.store
        self.reads = list(dict.fromkeys(reads))

    async def __aenter__(self) -> Unit:
        values = await self.lock.take([key_of(ns, key) for ns, key in self.reads])
        for item, raw in zip(self.reads, values, strict=True):
            self._seen[item] = None if raw is None else decode(item[0], raw)
        return self

    async def _fetch(self, items: Sequence[Item]) -> Sequence[str | bytes | None]:
        names = [key_of(ns, key) for ns, key in items]
        return await self.store._call("get", items[0][0], self.store.client.mget(names))

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        token, self.lock.token = self.lock.token, None
        if token is None:
            return
        writes = self.writes if kind is None else {}
        keys: list[str] = [self.lock.names[0]]
        args: list[bytes | int] = [token]
        for (ns, key), (text, ttl) in writes.items():
            keys.append(key_of(ns, key))
            args += [b"" if text is None else text.encode(), 0 if ttl is None else millis(ttl)]
        try:
            done = await self.store._call(
                "commit", "lock", self.store._commit(keys=keys, args=args)
            )
        except StoreUnavailable:
            self.store._abandon(self.lock.names, token)
            if kind is not None:
                log.warning("lock not released (redis unreachable); released once it answers")
                return  # the body's own error stands
            raise
        if not done:
            log.warning("a lock was held past its timeout and had been taken over")
            if kind is None and writes:
                raise LockLost("lock lapsed before the writes; nothing written")
