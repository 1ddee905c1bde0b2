"""The Redis store beyond the contract, on the suite's real redis-server: key layout and
size, outages (stopped, hung, connections killed), and locks across real processes."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from bot.store import LockTimeout, StoreUnavailable
from bot.store.redis import PLACE, RedisStore, Turns, millis
from dialogues.engine import Session

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
SENDER = "sms:+8613800000000"

CONTENDER = """
import asyncio, os, sys
from bot.store.redis import RedisStore

async def main(url: str, path: str, rounds: int) -> None:
    store = RedisStore(url)
    print("ready", flush=True)
    sys.stdin.readline()  # wait for "go", so that both processes contend
    for _ in range(rounds):
        async with store.lock("sms:+8613800000000", timeout=5, wait=30):
            with open(path, "a") as log:
                log.write(f"enter {os.getpid()}\\n")
            await asyncio.sleep(0.005)
            with open(path, "a") as log:
                log.write(f"exit {os.getpid()}\\n")
        await asyncio.sleep(0.01)  # a sender's messages do not arrive back to back
    await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""

HOLDER = """
import asyncio, sys
from bot.store.redis import RedisStore

async def main(url: str) -> None:
    store = RedisStore(url)
    async with store.lock("sms:+8613800000000", timeout=1.0):
        print("held", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main(sys.argv[1]))
"""


WAITER = """
import asyncio, os, sys
from bot.store.redis import RedisStore

async def enter(store: RedisStore, sender: str, path: str) -> None:
    async with store.locked(sender, [("session", sender)], wait=20):
        with open(path, "a") as log:
            log.write(f"{sender} {os.getpid()}\\n")

async def main(url: str, path: str) -> None:
    store = RedisStore(url)
    await store.ping()
    print("ready", flush=True)
    waiting = []
    while line := (await asyncio.to_thread(sys.stdin.readline)).strip():  # a message
        waiting.append(asyncio.create_task(enter(store, line, path)))
    await asyncio.gather(*waiting)
    await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def realistic_session() -> dict[str, Any]:
    """An idle session in the middle of the questionnaire: ten answers, their history."""
    answers: dict[str, Any] = {
        "district": "奉节县",
        "township": "永安街道",
        "area": "rural",
        "members": 3,
        "ages": [67, 64, 35],
        "wages": 1200,
        "farming": 150,
        "pension": 180,
        "financial_assets": 3000,
        "legal_supporter": "unable",
    }
    session = Session(
        flow="screening",
        state="ask_vehicle",
        cursor=0,
        answers=answers,
        history=[[name, 0] for name in answers],
        hint={"template": "screen_vehicle", "values": {"retry": True}},  # the re-ask
        offer={"1": "dibao.conditions", "2": "dibao.apply", "3": "tekun.conditions"},
        last_seen=1_754_000_000.123,
    )
    return session.to_dict()


async def spawn(code: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def finish(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
    await process.wait()


async def tell(process: asyncio.subprocess.Process, text: str) -> None:
    """Write `text` to the process's standard input."""
    assert process.stdin is not None
    process.stdin.write(text.encode())
    await process.stdin.drain()


async def read_line(process: asyncio.subprocess.Process) -> bytes:
    assert process.stdout is not None
    return await asyncio.wait_for(process.stdout.readline(), 30)


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    opened = RedisStore(redis_url)
    yield opened
    await opened.close()


async def test_keys_are_prefixed_and_values_compact_utf8(
    store: RedisStore, raw: redis.Redis
) -> None:
    await store.put("session", SENDER, {"district": "奉节县", "members": [1, 2]}, ttl=3600)
    raw_value = raw.get(f"rb:session:{SENDER}")
    assert raw_value == '{"district":"奉节县","members":[1,2]}'.encode()
    assert 3_500_000 < int(raw.pttl(f"rb:session:{SENDER}")) <= 3_600_000
    assert await store.add_once("delivery", "twilio:SM1", ttl=60)
    assert 0 < int(raw.pttl("rb:delivery:twilio:SM1")) <= 60_000
    await store.incr("rate", SENDER, window=60)
    await store.incr("rate", SENDER, window=60)
    assert raw.get(f"rb:rate:{SENDER}") == b"2"
    assert 0 < int(raw.pttl(f"rb:rate:{SENDER}")) <= 60_000
    async with store.lock(SENDER, timeout=7):
        assert 0 < int(raw.pttl(f"rb:lock:{SENDER}")) <= 7_000
    assert raw.exists(f"rb:lock:{SENDER}") == 0
    assert sorted(raw.keys("*")) == sorted(
        f"rb:{name}".encode()
        for name in (f"session:{SENDER}", "delivery:twilio:SM1", f"rate:{SENDER}")
    )


async def test_a_counter_without_expiry_gets_its_window(
    store: RedisStore, raw: redis.Redis
) -> None:
    raw.set(f"rb:rate:{SENDER}", 5)  # e.g. left by an older version, without a TTL
    assert await store.incr("rate", SENDER, window=60) == 6
    assert 0 < int(raw.pttl(f"rb:rate:{SENDER}")) <= 60_000


async def test_an_idle_session_takes_under_2_kb(store: RedisStore, raw: redis.Redis) -> None:
    value = realistic_session()
    await store.put("session", SENDER, value, ttl=8 * 24 * 3600)
    assert await store.get("session", SENDER) == value
    used = int(raw.memory_usage(f"rb:session:{SENDER}") or 0)
    assert 0 < used <= 2048, used
    assert len(json.dumps(value, ensure_ascii=False, indent=2).encode()) > used  # compact


async def test_killed_connections_are_reopened_transparently(
    store: RedisStore, raw: redis.Redis
) -> None:
    await store.put("session", SENDER, {"v": 1})
    killed = raw.client_kill_filter(_type="normal", skipme=True)
    assert killed >= 1  # the store's pooled connection was among them
    assert await store.get("session", SENDER) == {"v": 1}


async def test_a_stopped_server_fails_fast_and_the_store_recovers(
    redis_server: Any, store: RedisStore
) -> None:
    await store.put("session", SENDER, {"v": 1})
    redis_server.stop()
    try:
        for operation in (
            store.get("session", SENDER),
            store.put("session", SENDER, {"v": 2}),
            store.add_once("delivery", "twilio:SM1", 60),
            store.incr("rate", SENDER, 60),
        ):
            start = time.monotonic()
            with pytest.raises(StoreUnavailable):
                await operation
            assert time.monotonic() - start < 5
        start = time.monotonic()
        with pytest.raises(StoreUnavailable) as raised:
            async with store.lock(SENDER, wait=30):
                pytest.fail("locked without a server")
        assert not isinstance(raised.value, LockTimeout)  # unreachable, not busy
        assert time.monotonic() - start < 5
        assert await store.ping() is False
    finally:
        redis_server.start()
    # The same store object works again: its pool reconnects.
    assert await store.ping() is True
    await store.put("session", SENDER, {"v": 3})
    assert await store.get("session", SENDER) == {"v": 3}


async def test_a_hung_server_times_out_instead_of_hanging(
    redis_server: Any, redis_url: str
) -> None:
    store = RedisStore(redis_url, socket_timeout=0.3, retries=1)
    await store.put("session", SENDER, {"v": 1})
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        start = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.get("session", SENDER)
        assert time.monotonic() - start < 3
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    assert await store.get("session", SENDER) == {"v": 1}
    await store.close()


async def test_calls_take_turns_in_arrival_order_and_newcomers_queue_behind() -> None:
    turns = Turns(1, wait=5)
    order: list[str] = []
    release_first = asyncio.Event()

    async def work(name: str, hold: asyncio.Event | None = None) -> None:
        order.append(name)
        if hold is not None:
            await hold.wait()

    async def first_then_again() -> None:
        await turns.run("first", work("first", release_first))
        # asks again the moment its turn ends, before the waiting have run: a server
        # whose next message is ready while others wait for a connection
        await turns.run("again", work("again"))

    first = asyncio.create_task(first_then_again())
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(turns.run(f"w{i}", work(f"waiting {i}"))) for i in range(3)]
    await asyncio.sleep(0)
    release_first.set()
    await asyncio.gather(first, *waiting)
    assert order == ["first", "waiting 0", "waiting 1", "waiting 2", "again"]


async def test_a_call_without_a_turn_in_time_is_unavailable_and_never_started() -> None:
    turns = Turns(1, wait=0.05)
    release = asyncio.Event()
    holder = asyncio.create_task(turns.run("held", release.wait()))
    await asyncio.sleep(0)
    started: list[bool] = []

    async def late() -> None:
        started.append(True)

    call = late()
    with pytest.raises(StoreUnavailable):
        await turns.run("late", call)
    assert started == []
    assert inspect.getcoroutinestate(call) == inspect.CORO_CLOSED  # no "never awaited"
    release.set()
    assert await holder is True
    await turns.run("after", late())  # the turn came back
    assert started == [True]


async def test_a_burst_beyond_the_pool_waits_its_turn_and_uses_no_more_connections(
    redis_url: str, raw: redis.Redis
) -> None:
    store = RedisStore(f"{redis_url}?client_name=burst", max_connections=3)
    try:
        await store.put("session", SENDER, {"v": 1})
        got = await asyncio.gather(*(store.get("session", SENDER) for _ in range(300)))
        assert got == [{"v": 1}] * 300
        opened = [c for c in raw.client_list() if c.get("name") == "burst"]
        assert 1 <= len(opened) <= 3
    finally:
        await store.close()


async def test_with_the_server_hung_a_call_waiting_for_a_turn_gives_up_after_pool_wait(
    redis_server: Any, redis_url: str
) -> None:
    store = RedisStore(redis_url, max_connections=1, pool_wait=0.2, socket_timeout=3, retries=0)
    await store.put("session", SENDER, {"v": 1})
    redis_server.process.send_signal(signal.SIGSTOP)
    try:
        stuck = asyncio.create_task(store.get("session", SENDER))  # holds the only turn
        await asyncio.sleep(0.05)
        start = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.get("session", SENDER)
        assert time.monotonic() - start < 1  # the turn's wait, not the socket's 3 s
    finally:
        redis_server.process.send_signal(signal.SIGCONT)
    assert await stuck == {"v": 1}  # the server answers once it runs again
    await store.close()


async def test_two_processes_never_hold_the_lock_together(redis_url: str, tmp_path: Path) -> None:
    journal = tmp_path / "journal.txt"
    processes = [await spawn(CONTENDER, redis_url, str(journal), "30") for _ in range(2)]
    try:
        for process in processes:
            assert await read_line(process) == b"ready\n"
        for process in processes:
            await tell(process, "go\n")
        for process in processes:
            assert await asyncio.wait_for(process.wait(), 60) == 0
    finally:
        for process in processes:
            await finish(process)
    lines = journal.read_text().split()
    events = list(zip(lines[0::2], lines[1::2], strict=True))  # (mark, pid)
    assert len(events) == 2 * 2 * 30
    for i in range(0, len(events), 2):
        (enter, holder), (leave, same) = events[i], events[i + 1]
        assert (enter, leave, same) == ("enter", "exit", holder), f"overlap at {i}"
    holders = [holder for _, holder in events[0::2]]
    switches = sum(a != b for a, b in itertools.pairwise(holders))
    assert switches >= 2  # they really took turns, so the check had something to catch


async def test_the_lock_of_a_killed_process_expires(redis_url: str, store: RedisStore) -> None:
    holder = await spawn(HOLDER, redis_url)
    try:
        assert await read_line(holder) == b"held\n"
        holder.send_signal(signal.SIGKILL)
    finally:
        await finish(holder)
    with pytest.raises(LockTimeout):  # the dead process still holds it
        async with store.lock(SENDER, wait=0.05):
            pytest.fail("entered a held lock")
    start = time.monotonic()
    async with store.lock(SENDER, wait=5):
        assert time.monotonic() - start < 1.5  # within the holder's 1 s timeout


async def test_a_lock_call_left_queued_in_a_hung_server_does_not_keep_the_sender_locked(
    redis_server: Any, redis_url: str
) -> None:
    """A hung server (SIGSTOP) keeps the lock calls that timed out on our side and runs
    them once it resumes: each takes the lock for a token nobody holds. The store gives
    such tokens back as soon as the server answers again, so the message's redelivery,
    on any server process, is handled at once instead of after the lock's 10 s timeout."""
    senders = [f"sms:+86138000002{n:02}" for n in range(5)]
    stalled = RedisStore(redis_url, socket_timeout=0.3, retries=1)
    other = RedisStore(redis_url)  # another server process, which gets the redelivery
    try:
        async with stalled.locked(SENDER):  # a first message: the script is loaded
            pass
        await asyncio.gather(*(stalled.get("session", s) for s in senders * 4))  # connected
        redis_server.process.send_signal(signal.SIGSTOP)
        try:

            async def message(sender: str) -> None:
                with pytest.raises(StoreUnavailable):
                    async with stalled.locked(sender, [("session", sender)]):
                        pytest.fail("locked on a hung server")

            await asyncio.gather(*(message(sender) for sender in senders))
        finally:
            redis_server.process.send_signal(signal.SIGCONT)

        async def redelivery(sender: str) -> float:
            start = time.monotonic()
            async with other.locked(sender, [("session", sender)], wait=3):
                return time.monotonic() - start

        waited = await asyncio.gather(*(redelivery(sender) for sender in senders))
        assert max(waited) < 1.5, waited  # not the lock's 10 s
    finally:
        await stalled.close()
        await other.close()


async def in_line(raw: redis.Redis, sender: str, count: int) -> None:
    """Until `count` callers wait in the sender's lock line (each has made its first call)."""
    deadline = time.monotonic() + 10
    while raw.zcard(f"rb:lock/line:{sender}") < count:
        assert time.monotonic() < deadline, f"{sender}: fewer than {count} in line"
        await asyncio.sleep(0.01)


async def test_waiters_in_three_processes_enter_in_the_order_they_came(
    redis_url: str, raw: redis.Redis, tmp_path: Path
) -> None:
    """The auditor's case, across real processes: a resident's lock is held by a slow
    message; the next messages reach three server processes one after the other; each
    is handled in the order it came. Eight residents at once, so that chance fails."""
    journal = tmp_path / "journal.txt"
    senders = [f"sms:+86138000003{n:02}" for n in range(8)]
    for sender in senders:
        raw.set(f"rb:lock:{sender}", b"a slow message", px=20_000)
    processes = [await spawn(WAITER, redis_url, str(journal)) for _ in range(3)]
    try:
        for process in processes:
            assert await read_line(process) == b"ready\n"
        for count, process in enumerate(processes, start=1):
            await tell(process, "".join(f"{sender}\n" for sender in senders))
            for sender in senders:
                await in_line(raw, sender, count)
        for sender in senders:
            raw.delete(f"rb:lock:{sender}")  # the slow message is done
        for process in processes:
            await tell(process, "\n")
        for process in processes:
            assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        for process in processes:
            await finish(process)
    entered: dict[str, list[int]] = {sender: [] for sender in senders}
    for line in journal.read_text().splitlines():
        sender, pid = line.split()
        entered[sender].append(int(pid))
    expected = [process.pid for process in processes]
    assert entered == {sender: expected for sender in senders}
    assert raw.keys("rb:lock*") == []  # the lines are gone with their last waiter


async def test_a_killed_waiter_holds_up_the_line_for_place_seconds_at_most(
    redis_url: str, raw: redis.Redis, store: RedisStore
) -> None:
    raw.set(f"rb:lock:{SENDER}", b"a slow message", px=20_000)
    waiter = await spawn(WAITER, redis_url, os.devnull)
    try:
        assert await read_line(waiter) == b"ready\n"
        await tell(waiter, f"{SENDER}\n")
        await in_line(raw, SENDER, 1)
        waiter.send_signal(signal.SIGKILL)  # first in line, and never asks again
    finally:
        await finish(waiter)

    async def enter() -> float:
        async with store.locked(SENDER, wait=10):
            return time.monotonic()

    next_one = asyncio.create_task(enter())
    await in_line(raw, SENDER, 2)
    raw.delete(f"rb:lock:{SENDER}")
    released = time.monotonic()
    waited = await next_one - released
    assert PLACE - 0.5 <= waited < PLACE + 1.0  # the dead one's turn lapsed, then it was ours


async def test_asking_again_with_the_same_token_keeps_the_place_and_then_the_lock(
    store: RedisStore, raw: redis.Redis
) -> None:
    """What makes redis-py's retry of a lost reply harmless."""
    keys = [f"rb:lock:{SENDER}", f"rb:lock/line:{SENDER}", f"rb:session:{SENDER}"]

    async def ask(token: bytes) -> Any:
        return await store._acquire(keys=keys, args=[token, 10_000, millis(PLACE)])

    raw.set(keys[0], b"holder", px=20_000)
    assert await ask(b"first") is None
    assert await ask(b"second") is None
    assert await ask(b"first") is None  # asked again: still first
    assert raw.zrange(keys[1], 0, -1) == [b"first", b"second"]
    raw.delete(keys[0])
    assert await ask(b"second") is None  # the free lock is kept for the first in line
    assert raw.get(keys[0]) == b"first"
    assert await ask(b"first") == [None]
    assert await ask(b"first") == [None]  # asked again: still ours
    assert 9_000 < int(raw.pttl(keys[0])) <= 10_000
    assert raw.zrange(keys[1], 0, -1) == [b"second"]


async def test_a_lock_whose_release_failed_is_released_once_redis_is_back(
    redis_server: Any, redis_url: str
) -> None:
    """A message whose writes could not reach Redis (answered 503) leaves its lock with
    Redis; the store releases it when Redis is back, so the redelivery need not wait
    for the lock's 10 s timeout."""
    first = RedisStore(redis_url)
    other = RedisStore(redis_url)  # another server process
    try:

        async def message() -> None:
            async with first.locked(SENDER) as unit:
                unit.put("session", SENDER, {"v": 1})
                redis_server.stop()  # the lock stays in the append-only file

        with pytest.raises(StoreUnavailable):
            await message()
        redis_server.start()
        start = time.monotonic()
        async with other.locked(SENDER, [("session", SENDER)], wait=5) as again:
            assert await again.get("session", SENDER) is None  # nothing was written
        assert time.monotonic() - start < 2.5
    finally:
        await first.close()
        await other.close()
