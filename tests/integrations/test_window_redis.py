"""The Redis queue beyond the contract, on the suite's real redis-server: the key and stream
layout, and real processes killed with SIGKILL between claim (or job) and acknowledgement."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from bot.referrals import Draft
from integrations.window import rules
from integrations.window.notify import HttpNotifier, Target, Targets
from integrations.window.redis import RedisWindow
from tests.channel_support import GatewayRecorder, gateway_server

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
PHONE = "13800138000"
TOWNSHIP = "渝中区/解放碑街道"
STREAM = f"rb:queue:{TOWNSHIP}"

CLAIMER = """
import asyncio, sys
from integrations.window.redis import RedisWindow

async def main(url: str, reference: str) -> None:
    window = RedisWindow(url)
    await window.claim(reference, "zhang")
    print("claimed", flush=True)
    await asyncio.sleep(3600)  # killed here: never contacts the resident

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""

NOTIFIER = """
import asyncio, sys
from integrations.window.redis import RedisWindow

async def main(url: str) -> None:
    window = RedisWindow(url)
    await window._prepare()
    while not (jobs := await window._next_jobs(8)):
        pass
    print("took", jobs[0].reference, flush=True)
    await asyncio.sleep(3600)  # killed here: the job is never sent nor acknowledged

asyncio.run(main(sys.argv[1]))
"""


def draft(key: str = "sms:+8613800138000:SM1", level: str = "urgent") -> Draft:
    return Draft(key=key, level=level, channel="sms", address="+86" + PHONE,
                 district="渝中区", township="解放碑街道", contact=PHONE,
                 signals=["no_food"], message="没吃的了", consent=True)  # fmt: skip


async def spawn(code: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, *args,
        stdout=asyncio.subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


async def kill_after_line(process: asyncio.subprocess.Process) -> str:
    """Wait for the process's line, then SIGKILL it: no cleanup of any kind runs."""
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        process.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(process.wait(), 10) == -signal.SIGKILL
        return line.decode().strip()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
async def window(redis_url: str) -> AsyncIterator[RedisWindow]:
    opened = RedisWindow(redis_url, claim_timeout=1.0)
    yield opened
    await opened.close()


async def test_a_worker_killed_between_claim_and_acknowledge_loses_nothing(
    window: RedisWindow, raw: redis.Redis, redis_url: str
) -> None:
    created = await window.create(draft())
    claimer = await spawn(CLAIMER, redis_url, created.reference)
    assert await kill_after_line(claimer) == "claimed"
    held = await window.get(created.reference)
    assert held is not None
    assert (held.status, held.assignee) == ("claimed", "zhang")
    (pending,) = raw.xpending_range(STREAM, "claims", "-", "+", 10)
    assert pending["consumer"] == "staff:zhang"
    assert await window.reclaim_abandoned() == []  # not yet: the claim timeout is 1 s
    await asyncio.sleep(1.2)
    assert await window.reclaim_abandoned() == [created.reference]
    back = await window.get(created.reference)
    assert back is not None
    assert (back.status, back.assignee) == ("new", None)
    assert [s.reference for s in await window.list([TOWNSHIP], statuses=["new"])] == [
        created.reference]  # fmt: skip
    assert raw.xpending_range(STREAM, "claims", "-", "+", 10) == []  # acknowledged
    claimed = await window.claim(created.reference, "li")
    assert claimed.assignee == "li"
    (pending,) = raw.xpending_range(STREAM, "claims", "-", "+", 10)
    assert pending["consumer"] == "staff:li"
    assert [a["action"] for a in claimed.audit] == ["created", "claimed", "reclaimed", "claimed"]


async def test_the_started_queue_takes_abandoned_claims_back_by_itself(
    redis_url: str, raw: redis.Redis
) -> None:
    window = RedisWindow(redis_url, claim_timeout=0.5, tick=0.1)
    try:
        created = await window.create(draft())
        claimer = await spawn(CLAIMER, redis_url, created.reference)
        assert await kill_after_line(claimer) == "claimed"
        await window.start()
        deadline = time.monotonic() + 10
        while (current := await window.get(created.reference)) and current.status != "new":
            assert time.monotonic() < deadline, "never reclaimed"
            await asyncio.sleep(0.05)
    finally:
        await window.close()


async def test_a_notifier_killed_before_acknowledging_a_job_loses_nothing(
    redis_url: str, raw: redis.Redis
) -> None:
    async with gateway_server() as (relay, base):
        producer = RedisWindow(redis_url)
        survivor = RedisWindow(
            redis_url,
            notifier=HttpNotifier(f"{base}/notify"),
            targets=Targets({TOWNSHIP: (Target("telegram", "-100123"),)}),
            job_timeout=1.0,
        )
        try:
            dying = await spawn(NOTIFIER, redis_url)
            await asyncio.sleep(0.5)  # the dying notifier is waiting for jobs
            created = await producer.create(draft())
            assert await kill_after_line(dying) == f"took {created.reference}"
            assert raw.xpending("rb:window:outbox", "notifiers")["pending"] == 1
            await survivor.start()
            await told(relay, 1, "the job was lost")
            await asyncio.sleep(0.3)
            assert len(relay.texts()) == 1
            assert created.reference in relay.texts()[0]
            assert raw.xpending("rb:window:outbox", "notifiers")["pending"] == 0
            assert raw.xlen("rb:window:outbox") == 0
        finally:
            await survivor.close()
            await producer.close()


async def told(relay: GatewayRecorder, count: int, why: str) -> None:
    """Wait (up to 10 s) until the relay has received `count` notifications."""
    deadline = time.monotonic() + 10
    while len(relay.requests) < count:
        assert time.monotonic() < deadline, why
        await asyncio.sleep(0.05)


async def test_the_notifier_recreates_its_group_when_redis_lost_it(
    redis_url: str, raw: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """FLUSHALL (or a failover to an empty replica) takes the `notifiers` group away:
    the notifier makes it again and sends what was queued meanwhile."""
    async with gateway_server() as (relay, base):
        window = RedisWindow(
            redis_url,
            notifier=HttpNotifier(f"{base}/notify"),
            targets=Targets({TOWNSHIP: (Target("telegram", "-100123"),)}),
        )
        lost = "not notified: the notifier did not recover"
        try:
            await window.start()
            await window.create(draft())
            await told(relay, 1, lost)
            raw.flushall()
            await asyncio.sleep(1.5)  # the notifier meets the missing group
            after = await window.create(draft(key="sms:+8613800138000:SM2"))
            await told(relay, 2, lost)
            assert after.reference in relay.texts()[1]
            assert raw.xinfo_groups("rb:window:outbox")[0]["name"] == "notifiers"
        finally:
            await window.close()
    unavailable = [r for r in caplog.records if "jobs unavailable" in r.getMessage()]
    assert len(unavailable) <= 1


async def test_only_a_delivered_reply_acknowledges_the_claim(
    window: RedisWindow, raw: redis.Redis
) -> None:
    created = await window.create(draft())
    await window.claim(created.reference, "zhang")
    sent = await window.reply(created.reference, "zhang", "请回电话")
    await window.reply_sent(created.reference, "zhang", sent.index, "no_channel")
    (pending,) = raw.xpending_range(STREAM, "claims", "-", "+", 10)
    assert pending["consumer"] == "staff:zhang"  # still a claim: nobody reached the resident
    again = await window.reply(created.reference, "zhang", "明天上门")
    await window.reply_sent(created.reference, "zhang", again.index)
    assert raw.xpending_range(STREAM, "claims", "-", "+", 10) == []


async def test_a_lost_claims_group_is_made_again(window: RedisWindow, raw: redis.Redis) -> None:
    created = await window.create(draft())
    raw.xgroup_destroy(STREAM, "claims")
    assert await window.reclaim_abandoned() == []
    assert [g["name"] for g in raw.xinfo_groups(STREAM)] == ["claims"]
    await window.claim(created.reference, "zhang")
    (pending,) = raw.xpending_range(STREAM, "claims", "-", "+", 10)
    assert pending["consumer"] == "staff:zhang"


async def test_key_and_stream_layout(window: RedisWindow, raw: redis.Redis) -> None:
    created = await window.create(draft())
    ref = created.reference
    record = raw.hgetall(f"rb:window:ref:{ref}")
    assert set(record) == {"data", "version", "stream", "entry"}
    assert record["stream"] == STREAM
    assert record["version"] == "1"
    assert raw.get(f"rb:window:key:{created.key}") == ref
    assert raw.xrange(STREAM) == [(record["entry"], {"ref": ref})]
    assert raw.xinfo_groups(STREAM)[0]["name"] == "claims"
    assert raw.smembers("rb:window:queues") == {TOWNSHIP}
    assert raw.zscore(f"rb:window:open:{TOWNSHIP}", ref) == created.deadline
    assert raw.zscore("rb:window:due", ref) == created.deadline
    jobs = raw.xrange("rb:window:outbox")
    assert [fields for _, fields in jobs or []] == [{"ref": ref, "event": "new", "queue": TOWNSHIP}]
    for name in raw.scan_iter("*"):
        assert PHONE not in name  # the idempotency key holds the sender: only its digest
    assert "没吃的了" in record["data"]  # stored as UTF-8, not \\u escapes
    await window.claim(ref, "zhang")
    assert raw.zscore("rb:window:due", ref) is None
    await window.resolve(ref, "zhang", "已办结")
    assert raw.xlen(STREAM) == 0
    assert raw.zscore(f"rb:window:open:{TOWNSHIP}", ref) is None
    assert raw.zscore(f"rb:window:closed:{TOWNSHIP}", ref) is not None
    assert raw.zscore("rb:window:resolved", ref) is not None
    await window.purge_personal_data(-1.0)
    assert raw.zscore("rb:window:resolved", ref) is None


async def test_a_transfer_moves_the_stream_entry(window: RedisWindow, raw: redis.Redis) -> None:
    created = await window.create(draft())
    await window.claim(created.reference, "zhang")
    await window.transfer(created.reference, "zhang", "渝中区/七星岗街道")
    assert raw.xlen(STREAM) == 0
    assert raw.xpending(STREAM, "claims")["pending"] == 0
    moved = raw.xrange("rb:queue:渝中区/七星岗街道")
    assert moved is not None
    assert [fields for _, fields in moved] == [{"ref": created.reference}]
    assert raw.hget(f"rb:window:ref:{created.reference}", "entry") == moved[0][0]
    assert raw.zscore(f"rb:window:open:{TOWNSHIP}", created.reference) is None


async def test_a_stale_version_is_refused_by_the_script(
    window: RedisWindow, raw: redis.Redis
) -> None:
    """Optimistic concurrency at the lowest level: a write based on an old read loses."""
    created = await window.create(draft())
    claimed = await window.claim(created.reference, "zhang")
    late = rules.claim(created, "li", window.clock())  # decided on the version-1 read
    assert await window._apply(created, late) == ("stale", "")
    current = await window.get(created.reference)
    assert current == claimed


async def test_a_burst_waits_for_a_connection_instead_of_failing(redis_url: str) -> None:
    window = RedisWindow(redis_url, max_connections=4)
    try:
        made = await asyncio.gather(*(window.create(draft(key=f"k{i}")) for i in range(200)))
        assert len({r.reference for r in made}) == 200
        assert len(await window.list([TOWNSHIP], limit=500)) == 200
    finally:
        await window.close()
