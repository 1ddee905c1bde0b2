"""The store: one small async contract (the opsdroid habit, ARCHITECTURE.md), two backends.

- `EmbeddedStore` (bot/store/embedded.py): SQLite in WAL mode under `RESIDENTBOT_DATA_DIR`,
  the default of `residentbot serve` and `residentbot chat`. It serves ONE process: its
  locks are in-process leases, so two servers must not share one data directory.
- `RedisStore` (bot/store/redis.py): when `REDIS_URL` is set; any number of server
  processes share one Redis, and its locks hold across them.

`open_store(url_or_path)` picks one: a `redis://`, `rediss://` or `unix://` URL gives
Redis, anything else is the embedded store's data directory.

Rules every backend keeps (tests/bot/test_store_contract.py proves them on both):
- Values are JSON objects (dicts), stored as compact UTF-8 JSON; Chinese round-trips.
- A record with a TTL is gone once the TTL has passed (`get` returns None).
- A namespace is a short name (`session`, `delivery`, `optout`, `rate`); `lock` is
  reserved. A key is any text. A key is used either as a record (`put`/`get`,
  `add_once`) or as a counter (`incr`), not both; `add_once` records read as `{}`.
- Keys and values hold phone numbers: nothing here logs them, only namespaces and counts.
- `StoreUnavailable` means the backend could not be reached after retries: webhooks
  answer 503 so that gateways deliver again later (bot/router.py passes it up).
- Locks are first come, first served per key (across processes on Redis): one sender's
  messages are handled in the order they arrived, and a waiter that gives up or dies
  holds up those behind it for a moment at most (on Redis `PLACE`, 2 s, each).
- `LockTimeout` is a `StoreUnavailable`: a sender whose lock cannot be had within `wait`
  (a stuck earlier message) is answered the same way — "try again later" — and the
  gateway's redelivery is then de-duplicated by delivery id.
- `locked(key, reads)` is one message's work as a `Unit`: the lock, the reads (those
  named up front come with the lock), and writes that are applied together, atomically,
  when the block ends without an error, and only while the lock is still held (else
  `LockLost`: nothing is written, the message is answered 503 and delivered again). On
  Redis that is two round trips for a whole message instead of one per command; on the
  embedded store one transaction (one fsync) instead of one per write.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Item",
    "LockLost",
    "LockTimeout",
    "Store",
    "StoreUnavailable",
    "Unit",
    "decode",
    "encode",
    "is_redis_url",
    "open_store",
]

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
RESERVED_NAMESPACES = frozenset({"lock"})
_NAMESPACE = re.compile(r"[A-Za-z0-9_.-]{1,32}")


class StoreUnavailable(Exception):
    """The backend cannot be reached after retries; webhooks answer 503 so gateways retry."""


class LockTimeout(StoreUnavailable):
    """The lock was not free within `wait` seconds."""


class LockLost(StoreUnavailable):
    """A unit's lock lapsed (held past its timeout) before its writes: none were made."""


Item = tuple[str, str]  # (namespace, key)
Write = tuple[str | None, float | None]  # (compact JSON, or None to delete; ttl seconds)


class Unit:
    """One message's work under one lock (`Store.locked`): reads, and writes kept until the
    block ends, then applied together. Reads see the unit's own writes; a record read twice
    is read from the backend once. Backends give `_fetch` (raw values of records, None
    when missing or expired) and apply `writes` when the block ends."""

    def __init__(self) -> None:
        self._seen: dict[Item, dict[str, Any] | None] = {}
        self.writes: dict[Item, Write] = {}

    async def get(self, namespace: str, key: str) -> dict[str, Any] | None:
        return (await self.get_many([(namespace, key)]))[0]

    async def get_many(self, items: Sequence[Item]) -> list[dict[str, Any] | None]:
        missing = [i for i in dict.fromkeys(items) if i not in self._seen and i not in self.writes]
        if missing:
            for item in missing:
                check_namespace(item[0])
            for item, raw in zip(missing, await self._fetch(missing), strict=True):
                self._seen[item] = None if raw is None else decode(item[0], raw)
        return [self._read(item) for item in items]

    def put(
        self, namespace: str, key: str, value: dict[str, Any], ttl: float | None = None
    ) -> None:
        check_namespace(namespace)
        self.writes[(namespace, key)] = (
            encode(value),
            None if ttl is None else check_seconds("ttl", ttl),
        )

    def delete(self, namespace: str, key: str) -> None:
        check_namespace(namespace)
        self.writes[(namespace, key)] = (None, None)

    def _read(self, item: Item) -> dict[str, Any] | None:
        if item in self.writes:
            text = self.writes[item][0]
            return None if text is None else decode(item[0], text)
        return self._seen[item]

    async def _fetch(self, items: Sequence[Item]) -> Sequence[str | bytes | None]:
        raise NotImplementedError


@runtime_checkable
class Store(Protocol):
    async def get(self, namespace: str, key: str) -> dict[str, Any] | None:
        """The record, or None when missing or expired."""
        ...

    async def put(
        self, namespace: str, key: str, value: dict[str, Any], ttl: float | None = None
    ) -> None:
        """Create or replace the record; `ttl` seconds (> 0) or None to keep it."""
        ...

    async def delete(self, namespace: str, key: str) -> None:
        """Remove the record or counter; no error if there is none."""
        ...

    async def add_once(self, namespace: str, key: str, ttl: float) -> bool:
        """Record `key` for `ttl` seconds: True the first time, False while recorded.

        Atomic across concurrent tasks (and processes sharing a Redis); durable."""
        ...

    async def incr(self, namespace: str, key: str, window: float) -> int:
        """Fixed-window counter: the count including this call within the current
        window, which starts at the first increment and lasts `window` seconds."""
        ...

    def lock(
        self, key: str, timeout: float = 10.0, wait: float = 15.0
    ) -> AbstractAsyncContextManager[None]:
        """Mutual exclusion per key, first come, first served. A holder that never
        releases (crashed) loses the lock after `timeout` seconds; not getting it within
        `wait` raises LockTimeout."""
        ...

    def locked(
        self, key: str, reads: Sequence[Item] = (), timeout: float = 10.0, wait: float = 15.0
    ) -> AbstractAsyncContextManager[Unit]:
        """`lock(key)` as a `Unit`: `reads` are fetched with the lock; the unit's writes are
        applied atomically when the block ends without an error, or not at all (an error,
        or `LockLost` when the lock lapsed meanwhile)."""
        ...

    async def ping(self) -> bool:
        """Whether the backend answers now (for /healthz); never raises."""
        ...

    async def close(self) -> None: ...


def open_store(url_or_path: str | os.PathLike[str]) -> Store:
    """Redis for a `redis://`, `rediss://` or `unix://` URL; otherwise the embedded store
    in that directory (created on first use). Nothing is connected until first use."""
    if isinstance(url_or_path, str) and is_redis_url(url_or_path):
        from bot.store.redis import RedisStore

        return RedisStore(url_or_path)
    from bot.store.embedded import EmbeddedStore

    return EmbeddedStore(Path(url_or_path))


def is_redis_url(text: str) -> bool:
    return text.startswith(REDIS_SCHEMES)


def check_namespace(namespace: str) -> str:
    """A namespace is a short name without ':' (it is part of the Redis key)."""
    if not _NAMESPACE.fullmatch(namespace) or namespace in RESERVED_NAMESPACES:
        raise ValueError(f"invalid store namespace {namespace!r}")
    return namespace


def check_seconds(name: str, value: float) -> float:
    if not value > 0:
        raise ValueError(f"{name} must be > 0 seconds")
    return float(value)


def encode(value: dict[str, Any]) -> str:
    """Compact JSON, Chinese kept as UTF-8 (3 bytes a character instead of 6 for \\uXXXX)."""
    if not isinstance(value, dict):
        raise TypeError("store values are dicts")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def decode(namespace: str, raw: str | bytes) -> dict[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise TypeError(f"{namespace}: this key holds a counter, read it with incr")
    return value
