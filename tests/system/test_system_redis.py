"""Two `residentbot serve` processes on one real redis-server (issue 7, "Scale-out and
faults"), driven over HTTP like a gateway and a browser would:

- one resident's messages, alternating between the servers, are answered in order, and
  messages sent at once to both are handled one at a time under the sender's lock; a
  lock left by a crashed holder lapses after its timeout;
- referrals made on either server are queued exactly once;
- the same delivery sent ten times at once, across both servers, has one effect;
- the per-sender rate limit is counted across both servers;
- a server killed with SIGKILL in the middle of a load, then restarted: nothing lost,
  nothing doubled, every questionnaire resumes where it was;
- Redis stopped and started again under load: the webhooks answer 503 meanwhile (so the
  gateway delivers again), /healthz says so, and the servers recover by themselves.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from bot.config import Config
from bot.render import render_reply
from bot.store.redis import RedisStore
from bot.web import TRANSCRIPT, address
from integrations.window import Window
from tests.channel_support import ANSWERS
from tests.conftest import RedisServer
from tests.system.support import (
    EMERGENCY,
    Gateway,
    Resident,
    Server,
    check_outcome,
    fresh_number,
    masked,
    plans,
    queue_for,
    references,
    referrals_of,
    start_all,
)

pytestmark = [pytest.mark.redis, pytest.mark.slow]

RATE = 40  # messages per sender per minute, on both servers
POLITE = render_reply("sms", "rate_limited", {}).text


@dataclass
class Cluster:
    redis: RedisServer
    a: Server
    b: Server
    known: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # references

    @property
    def config(self) -> Config:
        return Config(data_dir=self.a.data, redis_url=self.redis.url)

    def alternate(self) -> Callable[[], Server]:
        """A load balancer for one resident: a, b, a, b …"""
        return itertools.cycle([self.a, self.b]).__next__


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    directory = tmp_path_factory.mktemp("cluster")
    (directory / "redis").mkdir()
    redis = RedisServer(directory / "redis")  # its own: one test stops it
    redis.start()
    env = {"REDIS_URL": redis.url, "RESIDENTBOT_RATE_LIMIT": str(RATE)}
    a, b = Server("a", directory, env), Server("b", directory, env)
    try:
        start_all([a, b])
        yield Cluster(redis, a, b)
    finally:
        a.stop()
        b.stop()
        redis.stop()


@dataclass
class Tools:
    cluster: Cluster
    http: aiohttp.ClientSession
    gateway: Gateway
    store: RedisStore
    window: Window


@pytest.fixture
async def tools(cluster: Cluster) -> AsyncIterator[Tools]:
    if cluster.redis.process is None:  # a test that stopped it failed before starting it
        cluster.redis.start()
    for server in (cluster.a, cluster.b):
        if server.process is None or server.process.poll() is not None:
            start_all([server])
    async with aiohttp.ClientSession() as http:
        store = RedisStore(cluster.redis.url)
        window = queue_for(cluster.config)
        try:
            yield Tools(cluster, http, Gateway(http), store, window)
        finally:
            await window.close()
            await store.close()


async def think() -> None:
    await asyncio.sleep(random.uniform(0, 0.01))


# --- one resident, two servers -----------------------------------------------------------


async def test_residents_alternating_between_the_servers_are_answered_in_order(
    tools: Tools,
) -> None:
    cluster = tools.cluster
    kinds = plans(10)
    expected = await references(tools.gateway, tools.store, only(cluster.a), kinds, cluster.known)
    residents = [Resident(fresh_number(), plan) for plan in kinds]
    await asyncio.gather(
        *(r.converse(tools.gateway, tools.store, cluster.alternate(), think) for r in residents)
    )
    assert tools.gateway.statuses.seen.keys() == {200}
    await check_outcome(residents, expected, tools.window)


def only(server: Server) -> Callable[[], Server]:
    return lambda: server


async def to_state(tools: Tools, resident: Resident, wanted: str) -> None:
    """Answer the screening (alternating servers) until it asks `wanted`."""
    pick = tools.cluster.alternate()
    await tools.gateway.deliver(pick, resident.number, "测一测", f"SM{random.getrandbits(64)}")
    for _ in range(30):
        flow, state, _ = await resident.state(tools.store)
        assert flow == "screening"
        if state == wanted:
            return
        text = ANSWERS.get(str(state), "不知道")
        await tools.gateway.deliver(pick, resident.number, text, f"SM{random.getrandbits(64)}")
    raise AssertionError(f"never asked {wanted}")


async def test_messages_sent_at_once_to_both_servers_are_handled_one_at_a_time(
    tools: Tools,
) -> None:
    """Six 不知道 at once, three to each server, from a resident at the first of a run of
    questions that 不知道 skips: with the sender's lock each is applied to the session
    the one before left, so six questions are skipped — as six in a row skip them — and
    each reply asks a different question. Without it, two would read the same session
    and one answer would be lost."""
    burst = 6
    alone, together = Resident(fresh_number(), plans(1)[0]), Resident(fresh_number(), plans(1)[0])
    for resident in (alone, together):
        await to_state(tools, resident, "labour")
    one_by_one = [
        await tools.gateway.deliver(tools.cluster.alternate(), alone.number, "不知道", f"SMa{n}")
        for n in range(burst)
    ]
    servers = [tools.cluster.a, tools.cluster.b] * (burst // 2)
    at_once = await asyncio.gather(
        *(
            tools.gateway.deliver(only(server), together.number, "不知道", f"SMt{n}")
            for n, server in enumerate(servers)
        )
    )
    assert len(set(one_by_one)) == burst  # six different questions (the check has teeth)
    assert sorted(at_once) == sorted(one_by_one)
    alone_session = await tools.store.get("session", alone.key)
    together_session = await tools.store.get("session", together.key)
    assert alone_session is not None
    assert together_session is not None
    assert together_session["state"] == alone_session["state"]
    assert together_session["answers"] == alone_session["answers"]


async def test_a_lock_left_by_a_crashed_holder_lapses_after_its_timeout(tools: Tools) -> None:
    resident = Resident(fresh_number(), plans(1)[0])
    hold = 1.5
    crashed = tools.store.lock(resident.key, timeout=hold)
    await crashed.__aenter__()  # taken, and never released: its holder died
    started = time.monotonic()
    reply = await tools.gateway.deliver(only(tools.cluster.b), resident.number, "测一测", "SMl1")
    waited = time.monotonic() - started
    assert waited >= hold - 0.3  # it waited for the lock instead of ignoring it
    assert "1" in reply
    flow, state, _ = await resident.state(tools.store)
    assert (flow, state) == ("screening", "district")


# --- duplicates ---------------------------------------------------------------------------


async def test_one_sms_delivered_ten_times_at_once_to_both_servers_has_one_effect(
    tools: Tools,
) -> None:
    resident = Resident(fresh_number(), plans(1)[0])
    pick = tools.cluster.alternate()
    await tools.gateway.deliver(pick, resident.number, "人工", "SMd0")
    answers = {"consent": "同意", "district": "奉节县", "township": "不知道", "phone": "1"}
    for n in range(10):
        flow, state, _ = await resident.state(tools.store)
        assert flow == "referral"
        if state == "confirm":
            break
        await tools.gateway.deliver(
            pick, resident.number, answers.get(str(state), "1"), f"SMd{n + 1}"
        )
    else:
        raise AssertionError("never asked to confirm")
    servers = [tools.cluster.a, tools.cluster.b] * 5
    replies = await asyncio.gather(
        *(tools.gateway.post(server, resident.number, "确认", "SMdup") for server in servers)
    )
    assert {status for status, _ in replies} == {200}
    assert len({body for _, body in replies}) == 1  # the same TwiML, ten times
    made = await referrals_of(tools.window, [resident.number])
    assert len(made[resident.number]) == 1
    assert made[resident.number][0].reference in replies[0][1]
    flow, state, _ = await resident.state(tools.store)
    assert flow is None


async def test_one_web_message_sent_ten_times_at_once_to_both_servers_has_one_effect(
    tools: Tools,
) -> None:
    cluster = tools.cluster
    async with tools.http.get(cluster.a.base + "/chat") as page:
        assert page.status == 200
        cookie = page.cookies["rb_chat"].value
    headers = {"Cookie": f"rb_chat={cookie}"}

    async def send(server: Server) -> tuple[int, dict[str, object]]:
        async with tools.http.post(
            server.base + "/api/chat", json={"text": "测一测", "id": "m-dup-1"}, headers=headers
        ) as answer:
            return answer.status, await answer.json()

    answers = await asyncio.gather(*(send(s) for s in [cluster.a, cluster.b] * 5))
    assert {status for status, _ in answers} == {200}
    assert len({str(body["replies"]) for _, body in answers}) == 1
    assert sorted(bool(body["duplicate"]) for _, body in answers) == [False] + [True] * 9
    shown = await tools.store.get(TRANSCRIPT, address(cookie))
    assert shown is not None
    assert [e["text"] for e in shown["log"] if e["who"] == "me"] == ["测一测"]
    session = await tools.store.get("session", f"web:{address(cookie)}")
    assert session is not None
    assert (session["flow"], session["state"]) == ("screening", "district")


# --- the rate limit ---------------------------------------------------------------------


async def test_the_rate_limit_is_counted_across_both_servers(tools: Tools) -> None:
    number, pick = fresh_number(), tools.cluster.alternate()
    for n in range(RATE):
        reply = await tools.gateway.deliver(pick, number, "帮助", f"SMr{n}")
        assert reply != POLITE
    for n in range(3):  # over the limit, whichever server it reaches
        assert await tools.gateway.deliver(pick, number, "帮助", f"SMo{n}") == POLITE
    emergency = await tools.gateway.deliver(pick, number, EMERGENCY, "SMe")
    assert emergency != POLITE
    assert "110" in emergency or "120" in emergency
    other = await tools.gateway.deliver(pick, fresh_number(), "帮助", "SMx")
    assert other != POLITE
    assert masked(POLITE) == POLITE


# --- faults under load -------------------------------------------------------------------


async def test_a_server_killed_under_load_loses_nothing(tools: Tools) -> None:
    cluster = tools.cluster
    kinds = plans(24)
    expected = await references(tools.gateway, tools.store, only(cluster.a), kinds, cluster.known)
    residents = [Resident(fresh_number(), plan) for plan in kinds]
    gateway = Gateway(tools.http)
    killed = asyncio.Event()

    async def kill_midway() -> None:
        await gateway.until_answered(150)
        cluster.a.kill()
        killed.set()
        await asyncio.to_thread(start_all, [cluster.a])

    fault = asyncio.create_task(kill_midway())
    await asyncio.gather(
        *(r.converse(gateway, tools.store, cluster.alternate(), think) for r in residents)
    )
    await fault
    assert killed.is_set()
    assert gateway.statuses.unreachable > 0  # deliveries did fail, and were made again
    assert set(gateway.statuses.seen) <= {200, 503}
    await check_outcome(residents, expected, tools.window)


async def healthz(http: aiohttp.ClientSession, server: Server) -> tuple[int, object]:
    async with http.get(server.base + "/healthz") as answer:
        return answer.status, (await answer.json())["store"]


async def test_redis_restarted_under_load_delays_messages_but_loses_none(tools: Tools) -> None:
    cluster = tools.cluster
    kinds = plans(16)
    expected = await references(tools.gateway, tools.store, only(cluster.a), kinds, cluster.known)
    residents = [Resident(fresh_number(), plan) for plan in kinds]
    gateway = Gateway(tools.http)
    seen: dict[str, list[tuple[int, object]]] = {"down": [], "up": []}
    late, probe = Resident(fresh_number(), kinds[0]), []

    async def outage() -> None:
        await gateway.until_answered(100)
        assert await healthz(tools.http, cluster.a) == (200, True)
        await asyncio.to_thread(cluster.redis.stop)
        refused = gateway.statuses.seen.get(503, 0)
        probe.append(asyncio.create_task(  # sure to be in flight while Redis is down
            gateway.deliver(only(cluster.b), late.number, "测一测", "SMprobe")))  # fmt: skip
        deadline = time.monotonic() + 20
        while gateway.statuses.seen.get(503, 0) - refused < 10:  # webhooks answered 503
            assert time.monotonic() < deadline, gateway.statuses
            await asyncio.sleep(0.05)
        seen["down"] = [await healthz(tools.http, s) for s in (cluster.a, cluster.b)]
        async with tools.http.post(cluster.b.base + "/api/chat", json={"text": "你好"}) as chat:
            seen["chat"] = [(chat.status, (await chat.json()).get("message"))]
        await asyncio.to_thread(cluster.redis.start)
        deadline = time.monotonic() + 20
        while True:  # no restart of the servers: they reconnect by themselves
            seen["up"] = [await healthz(tools.http, s) for s in (cluster.a, cluster.b)]
            if seen["up"] == [(200, True)] * 2 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)

    fault = asyncio.create_task(outage())
    await asyncio.gather(
        *(r.converse(gateway, tools.store, cluster.alternate(), think) for r in residents)
    )
    await fault
    assert "1" in await probe[0]  # answered once Redis was back: the first question
    assert await late.state(tools.store) == ("screening", "district", False)
    assert seen["down"] == [(503, False)] * 2
    status, message = seen["chat"][0]
    assert status == 503
    assert isinstance(message, str)
    assert message  # the page shows the resident a reason, in words
    assert seen["up"] == [(200, True)] * 2
    assert gateway.statuses.seen.get(503, 0) >= 10
    assert set(gateway.statuses.seen) == {200, 503}
    assert gateway.statuses.unreachable == 0  # the servers stayed up throughout
    await check_outcome(residents, expected, tools.window)


def test_module_files_are_where_the_servers_put_them(cluster: Cluster) -> None:
    """The servers share Redis only: each has its own data directory, and neither made an
    embedded store in it."""
    for server in (cluster.a, cluster.b):
        assert not (Path(server.data) / "store.sqlite3").exists()
        assert "store: redis" in server.log.read_text(encoding="utf-8")
