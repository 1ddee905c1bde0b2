"""The store contract (bot/store/__init__.py), proven on both backends.

The embedded store runs on an injectable clock, so its expiry tests move time; Redis
runs on the suite's real redis-server, so its expiry tests wait for real short PX.
Locks use real time on both (leases on the monotonic clock, PX on Redis).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.store import LockLost, LockTimeout, Store, StoreUnavailable, open_store
from bot.store.embedded import EmbeddedStore
from bot.store.redis import RedisStore

SENDER = "sms:+8613800000000"
SHORT = 0.4  # a TTL short enough to wait for on Redis


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_754_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    kind: str
    make: Callable[[], Store]
    advance: Callable[[float], Awaitable[None]]  # let this much (store) time pass
    opened: list[Store] = field(default_factory=list)

    def open(self) -> Store:
        """Another instance on the same data (the same file, the same Redis database)."""
        store = self.make()
        self.opened.append(store)
        return store


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "embedded":
        clock = FakeClock()

        async def move(seconds: float) -> None:
            clock.now += seconds

        chosen = Backend("embedded", lambda: EmbeddedStore(tmp_path / "data", clock=clock), move)
    else:
        url: str = request.getfixturevalue("redis_url")
        chosen = Backend("redis", lambda: RedisStore(url), asyncio.sleep)
    yield chosen
    for store in chosen.opened:
        await store.close()


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()


def assert_not_interleaved(events: list[tuple[str, int]], holders: int) -> None:
    """Every `enter` is followed by the same holder's `exit`, and everyone got in."""
    assert len(events) == 2 * holders
    for i in range(0, len(events), 2):
        (first, who), (second, same) = events[i], events[i + 1]
        assert (first, second, same) == ("enter", "exit", who), f"interleaved at {i}: {events}"
    assert sorted(who for mark, who in events if mark == "enter") == list(range(holders))


async def critical_section(
    store: Store, events: list[tuple[str, int]], who: int, use_lock: bool
) -> None:
    async def body() -> None:
        events.append(("enter", who))
        await store.get("session", SENDER)  # real I/O inside the section
        await asyncio.sleep(0.002)
        events.append(("exit", who))

    if use_lock:
        async with store.lock(SENDER):
            await body()
    else:
        await body()


# --- records ----------------------------------------------------------------------------


async def test_put_get_delete_round_trip_with_chinese(store: Store) -> None:
    value = {
        "flow": "screening",
        "answers": {"district": "奉节县", "township": "永安街道", "note": "老人独居，没吃的了"},
        "history": [["ask_income", 0], ["ask_members", 2]],
        "amount": 280.5,
        "consent": True,
        "paused": None,
        "emoji": "🙏",
    }
    assert await store.get("session", SENDER) is None
    await store.put("session", SENDER, value)
    assert await store.get("session", SENDER) == value
    await store.put("session", SENDER, {"flow": None})
    assert await store.get("session", SENDER) == {"flow": None}
    await store.delete("session", SENDER)
    assert await store.get("session", SENDER) is None
    await store.delete("session", SENDER)  # deleting what is gone is fine


async def test_keys_are_arbitrary_text_and_namespaces_are_separate(store: Store) -> None:
    keys = ["telegram:12345", "sms:+86 138 0000 0000", "web:张三:会话", "a:b:c", ""]
    for i, key in enumerate(keys):
        await store.put("session", key, {"i": i})
        await store.put("optout", key, {"opted_out": i})
    for i, key in enumerate(keys):
        assert await store.get("session", key) == {"i": i}
        assert await store.get("optout", key) == {"opted_out": i}
    await store.delete("optout", keys[0])
    assert await store.get("session", keys[0]) == {"i": 0}


@pytest.mark.parametrize("namespace", ["", "a:b", "lock", "x" * 40, "会话"])
async def test_bad_namespaces_are_refused(store: Store, namespace: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        await store.put(namespace, SENDER, {})
    with pytest.raises(ValueError, match="namespace"):
        await store.get(namespace, SENDER)


async def test_values_must_be_dicts_and_ttls_positive(store: Store) -> None:
    with pytest.raises(TypeError):
        await store.put("session", SENDER, ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ttl"):
        await store.put("session", SENDER, {}, ttl=0)
    with pytest.raises(ValueError, match="ttl"):
        await store.add_once("delivery", SENDER, ttl=-1)
    with pytest.raises(ValueError, match="window"):
        await store.incr("rate", SENDER, window=0)
    assert await store.get("session", SENDER) is None


async def test_data_survives_closing_and_reopening(backend: Backend) -> None:
    first = backend.open()
    await first.put("session", SENDER, {"district": "渝中区"})
    assert await first.add_once("delivery", "twilio:SM1", ttl=3600)
    await first.close()
    second = backend.open()
    assert await second.get("session", SENDER) == {"district": "渝中区"}
    assert not await second.add_once("delivery", "twilio:SM1", ttl=3600)


# --- expiry -----------------------------------------------------------------------------


async def test_a_record_is_gone_after_its_ttl(backend: Backend, store: Store) -> None:
    await store.put("session", SENDER, {"flow": "screening"}, ttl=SHORT)
    await store.put("session", "kept", {"flow": None})
    assert await store.get("session", SENDER) == {"flow": "screening"}
    await backend.advance(SHORT + 0.15)
    assert await store.get("session", SENDER) is None
    assert await store.get("session", "kept") == {"flow": None}


async def test_put_replaces_the_ttl(backend: Backend, store: Store) -> None:
    await store.put("session", SENDER, {"v": 1}, ttl=SHORT)
    await store.put("session", SENDER, {"v": 2})  # no TTL any more
    await store.put("session", "other", {"v": 3})
    await store.put("session", "other", {"v": 4}, ttl=SHORT)  # now it has one
    await backend.advance(SHORT + 0.15)
    assert await store.get("session", SENDER) == {"v": 2}
    assert await store.get("session", "other") is None


# --- add_once ---------------------------------------------------------------------------


async def test_add_once_is_true_once_then_false_until_expiry(
    backend: Backend, store: Store
) -> None:
    assert await store.add_once("delivery", "twilio:SM1", ttl=SHORT) is True
    assert await store.add_once("delivery", "twilio:SM1", ttl=SHORT) is False
    assert await store.add_once("delivery", "twilio:SM2", ttl=SHORT) is True
    assert await store.add_once("optout", "twilio:SM1", ttl=SHORT) is True
    assert await store.get("delivery", "twilio:SM1") == {}  # a record reads as empty
    await backend.advance(SHORT + 0.15)
    assert await store.add_once("delivery", "twilio:SM1", ttl=SHORT) is True


async def test_add_once_on_an_existing_record_is_false(store: Store) -> None:
    await store.put("delivery", "aliyun:seq-9", {"replies": []})
    assert await store.add_once("delivery", "aliyun:seq-9", ttl=60) is False
    assert await store.get("delivery", "aliyun:seq-9") == {"replies": []}


async def test_concurrent_add_once_gives_exactly_one_true(store: Store) -> None:
    results = await asyncio.gather(
        *(store.add_once("delivery", "telegram:update-77", ttl=60) for _ in range(50))
    )
    assert results.count(True) == 1
    assert results.count(False) == 49


async def test_add_once_from_two_instances_gives_exactly_one_true(backend: Backend) -> None:
    """Two instances: two SQLite connections on two threads, or two Redis pools."""
    first, second = backend.open(), backend.open()
    for round_ in range(5):
        key = f"twilio:SM-{round_}"
        results = await asyncio.gather(
            *(s.add_once("delivery", key, ttl=60) for _ in range(25) for s in (first, second))
        )
        assert results.count(True) == 1, results


# --- incr -------------------------------------------------------------------------------


async def test_incr_counts_within_a_fixed_window(backend: Backend, store: Store) -> None:
    window = 1.0
    assert await store.incr("rate", SENDER, window) == 1
    assert await store.incr("rate", "telegram:12345", window) == 1
    await backend.advance(0.6)
    assert await store.incr("rate", SENDER, window) == 2
    # The window started at the first increment and is not extended by later ones.
    await backend.advance(0.6)
    assert await store.incr("rate", SENDER, window) == 1
    assert await store.incr("rate", SENDER, window) == 2


async def test_concurrent_incr_counts_every_call(store: Store) -> None:
    counts = await asyncio.gather(*(store.incr("rate", SENDER, 60) for _ in range(50)))
    assert sorted(counts) == list(range(1, 51))


async def test_incr_from_two_instances_counts_every_call(backend: Backend) -> None:
    """One count for every process: the per-sender rate limit (bot/ratelimit.py) holds
    across servers sharing a Redis (and across two connections to one file)."""
    first, second = backend.open(), backend.open()
    counts = await asyncio.gather(
        *(s.incr("rate", SENDER, 60) for _ in range(20) for s in (first, second))
    )
    assert sorted(counts) == list(range(1, 41))


async def test_delete_resets_a_counter(store: Store) -> None:
    for _ in range(3):
        await store.incr("rate", SENDER, 60)
    await store.delete("rate", SENDER)
    assert await store.incr("rate", SENDER, 60) == 1


# --- locks ------------------------------------------------------------------------------


async def test_the_interleaving_check_catches_an_unlocked_section(store: Store) -> None:
    """The check used below fails when there is no lock: it can tell."""
    events: list[tuple[str, int]] = []
    await asyncio.gather(*(critical_section(store, events, i, use_lock=False) for i in range(20)))
    with pytest.raises(AssertionError, match="interleaved"):
        assert_not_interleaved(events, 20)


async def test_lock_excludes_concurrent_holders(store: Store) -> None:
    events: list[tuple[str, int]] = []
    await asyncio.gather(*(critical_section(store, events, i, use_lock=True) for i in range(20)))
    assert_not_interleaved(events, 20)


async def test_lock_excludes_holders_on_two_instances(backend: Backend) -> None:
    first, second = backend.open(), backend.open()
    events: list[tuple[str, int]] = []
    if backend.kind == "embedded":  # one process, one store: documented in embedded.py
        second = first
    await asyncio.gather(
        *(critical_section((first, second)[i % 2], events, i, use_lock=True) for i in range(20))
    )
    assert_not_interleaved(events, 20)


async def test_locks_on_different_keys_do_not_wait_for_each_other(store: Store) -> None:
    async with store.lock("sms:+8613800000001"), store.lock("sms:+8613800000002", wait=0.05):
        pass


async def test_lock_is_released_when_the_body_raises(store: Store) -> None:
    with pytest.raises(KeyError):
        async with store.lock(SENDER):
            raise KeyError("boom")
    async with store.lock(SENDER, wait=0.05):  # far shorter than the 10 s timeout
        pass


async def test_waiting_longer_than_wait_raises_lock_timeout(store: Store) -> None:
    async with store.lock(SENDER, timeout=10):
        start = time.monotonic()
        with pytest.raises(LockTimeout):
            async with store.lock(SENDER, wait=0.3):
                pytest.fail("entered a held lock")
        elapsed = time.monotonic() - start
    assert 0.25 <= elapsed < 2.0
    assert issubclass(LockTimeout, StoreUnavailable)  # webhooks answer 503 for both


async def test_the_lock_of_a_dead_holder_expires_after_its_timeout(store: Store) -> None:
    dead = store.lock(SENDER, timeout=0.4)
    await dead.__aenter__()  # and never leaves, as if its task had died
    start = time.monotonic()
    async with store.lock(SENDER, timeout=10, wait=5):
        elapsed = time.monotonic() - start
        # The dead holder coming back to release must not free its successor's lock.
        await dead.__aexit__(None, None, None)
        with pytest.raises(LockTimeout):
            async with store.lock(SENDER, wait=0.1):
                pytest.fail("the stale holder released its successor's lock")
    assert 0.3 <= elapsed < 3.0


async def test_a_waiter_gets_the_lock_soon_after_release(store: Store) -> None:
    async def second() -> float:
        start = time.monotonic()
        async with store.lock(SENDER, wait=5):
            return time.monotonic() - start

    async with store.lock(SENDER):
        waiter = asyncio.create_task(second())
        await asyncio.sleep(0.3)
        assert not waiter.done()
    waited = await waiter
    assert 0.25 <= waited < 1.0


async def test_waiters_enter_in_the_order_they_came(backend: Backend) -> None:
    """First come, first served per sender, also across instances (two Redis clients stand
    for two server processes): three waiters queue up behind a slow message, and a
    newcomer arriving the moment it ends goes behind them. Ten senders at once, so that
    an order left to chance fails."""
    stores = [backend.open(), backend.open()] if backend.kind == "redis" else [backend.open()]
    order: dict[str, list[int]] = {}

    async def enter(who: int, sender: str) -> None:
        async with stores[who % len(stores)].locked(sender, wait=10):
            order[sender].append(who)

    async def sender_trial(sender: str) -> None:
        order[sender] = []
        waiters = []
        async with stores[0].lock(sender):  # a slow message
            for who in range(3):
                waiters.append(asyncio.create_task(enter(who, sender)))
                await asyncio.sleep(0.1)  # its first try is well on its way
        waiters.append(asyncio.create_task(enter(3, sender)))
        await asyncio.gather(*waiters)

    senders = [f"sms:+86138000001{n:02}" for n in range(10)]
    await asyncio.gather(*(sender_trial(sender) for sender in senders))
    assert order == {sender: [0, 1, 2, 3] for sender in senders}


async def test_waiters_that_give_up_do_not_hold_up_those_behind(store: Store) -> None:
    """One waiter's `wait` runs out, one is cancelled (its request went away): the one
    behind them gets the lock as soon as it is released."""

    async def enter(wait: float) -> float:
        async with store.locked(SENDER, wait=wait):
            return time.monotonic()

    async with store.lock(SENDER):
        impatient = asyncio.create_task(enter(0.1))
        await asyncio.sleep(0.05)
        cancelled = asyncio.create_task(enter(10))
        await asyncio.sleep(0.05)
        patient = asyncio.create_task(enter(10))
        await asyncio.sleep(0.3)
        cancelled.cancel()
        with pytest.raises(LockTimeout):
            await impatient
        await asyncio.sleep(0.1)
        released = time.monotonic()
    assert await patient - released < 1.0  # not held up by those who left (2 s on Redis)
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    if isinstance(store, EmbeddedStore):
        assert store._leases == {}
        assert store._lines == {}  # no trace of the waiting either


# --- units: one message's reads and writes under its lock --------------------------------


async def test_a_unit_reads_with_the_lock_and_writes_when_it_ends(store: Store) -> None:
    await store.put("session", SENDER, {"state": "ask_size"})
    reads = [("session", SENDER), ("delivery", "twilio:SM1")]
    async with store.locked(SENDER, reads) as unit:
        assert await unit.get_many(reads) == [{"state": "ask_size"}, None]
        unit.put("session", SENDER, {"state": "ask_ages"}, ttl=60)
        unit.put("delivery", "twilio:SM1", {"replies": ["好的"]})
        unit.delete("optout", SENDER)
        # the unit sees its own writes; the store does not until the unit ends
        assert await unit.get("session", SENDER) == {"state": "ask_ages"}
        assert await unit.get("optout", SENDER) is None
        assert await store.get("session", SENDER) == {"state": "ask_size"}
    assert await store.get("session", SENDER) == {"state": "ask_ages"}
    assert await store.get("delivery", "twilio:SM1") == {"replies": ["好的"]}


async def test_a_unit_reads_records_not_named_up_front(store: Store) -> None:
    await store.put("optout", SENDER, {"at": 1})
    async with store.locked(SENDER) as unit:
        assert await unit.get("optout", SENDER) == {"at": 1}
        assert await unit.get("session", SENDER) is None
        unit.delete("optout", SENDER)
    assert await store.get("optout", SENDER) is None


async def test_a_unit_that_raises_writes_nothing_and_releases_the_lock(store: Store) -> None:
    async def half_done() -> None:
        async with store.locked(SENDER) as unit:
            unit.put("session", SENDER, {"half": "done"})
            raise KeyError("boom")

    with pytest.raises(KeyError):
        await half_done()
    assert await store.get("session", SENDER) is None
    async with store.locked(SENDER, wait=0.05):
        pass


async def test_unit_writes_keep_their_ttl(backend: Backend, store: Store) -> None:
    async with store.locked(SENDER) as unit:
        unit.put("session", SENDER, {"v": 1}, ttl=SHORT)
        unit.put("session", "kept", {"v": 2})
    await backend.advance(SHORT + 0.15)
    assert await store.get("session", SENDER) is None
    assert await store.get("session", "kept") == {"v": 2}


async def test_units_and_locks_on_one_key_exclude_each_other(store: Store) -> None:
    events: list[tuple[str, int]] = []

    async def unit_section(who: int) -> None:
        async with store.locked(SENDER, [("session", SENDER)]) as unit:
            events.append(("enter", who))
            count = (await unit.get("session", SENDER) or {"n": 0})["n"]
            await asyncio.sleep(0.002)
            unit.put("session", SENDER, {"n": count + 1})
            events.append(("exit", who))

    await asyncio.gather(
        *(unit_section(i) if i % 2 else critical_section(store, events, i, True) for i in range(20))
    )
    assert_not_interleaved(events, 20)
    assert await store.get("session", SENDER) == {"n": 10}  # no increment lost


async def test_a_unit_whose_lock_lapsed_writes_nothing(store: Store) -> None:
    async def slow_then_overtaken() -> None:
        async with store.locked(SENDER, timeout=0.3) as slow:
            slow.put("session", SENDER, {"by": "the slow one"})
            async with store.locked(SENDER, wait=5) as fast:  # takes over after the lapse
                fast.put("session", SENDER, {"by": "the next one"})

    with pytest.raises(LockLost):
        await slow_then_overtaken()
    assert await store.get("session", SENDER) == {"by": "the next one"}
    assert issubclass(LockLost, StoreUnavailable)  # answered 503: delivered again later


async def test_a_unit_waits_for_the_lock_then_raises_lock_timeout(store: Store) -> None:
    async with store.lock(SENDER):
        with pytest.raises(LockTimeout):
            async with store.locked(SENDER, [("session", SENDER)], wait=0.2):
                pytest.fail("entered a held lock")


# --- health -----------------------------------------------------------------------------


async def test_ping(store: Store) -> None:
    assert await store.ping() is True


def test_open_store_picks_the_backend(tmp_path: Path) -> None:
    embedded = open_store(tmp_path / "var")
    assert isinstance(embedded, EmbeddedStore)
    assert isinstance(embedded, Store)
    assert not (tmp_path / "var").exists()  # nothing is created before first use
    asyncio.run(embedded.close())
    redis_store = open_store("redis://127.0.0.1:1/0")
    assert isinstance(redis_store, RedisStore)
    assert isinstance(redis_store, Store)
    asyncio.run(redis_store.close())
