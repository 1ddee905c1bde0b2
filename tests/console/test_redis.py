"""The console on Redis: two server processes' worth of apps sharing one Redis see the
same users, sessions and lockouts, and act on the same referral queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.config import Config
from bot.console import setup
from bot.console.common import CONSOLE
from bot.delivery import Delivery
from bot.sessions import Sessions
from bot.store import open_store
from bot.web import OUTBOX, WebOutbox
from integrations.window.redis import RedisWindow
from tests.console.helpers import (
    LOG2_N,
    PASSWORD,
    TOWNSHIP_A,
    TOWNSHIP_B,
    Browser,
    Server,
    Services,
    add_users,
    free_port,
)

pytestmark = pytest.mark.redis


async def start(services: Services, runners: list[web.AppRunner]) -> Server:
    app = web.Application()
    setup(app, services, log2_n=LOG2_N)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    runners.append(runner)
    return Server(f"http://127.0.0.1:{port}", services, app)


@pytest.fixture
async def two_servers(redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[Server, Server]]:
    runners: list[web.AppRunner] = []
    made: list[Services] = []
    for _ in range(2):  # each with its own connections, as two processes would have
        store = open_store(redis_url)
        made.append(
            Services(
                store,
                RedisWindow(redis_url),
                Delivery({"web": WebOutbox(store)}),
                Config(data_dir=tmp_path, redis_url=redis_url),
            )
        )
    first, second = [await start(s, runners) for s in made]
    await add_users(first.app[CONSOLE])  # added through the first only
    yield first, second
    for runner in runners:
        await runner.cleanup()
    for services in made:
        await services.referrals.close()
        await services.store.close()


async def test_users_sessions_and_lockouts_are_shared(two_servers: tuple[Server, Server]) -> None:
    first, second = two_servers
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        b = Browser(second, session)
        status, _, location = await b.login("staff_a")  # a user added on the first
        assert (status, location) == (303, "/console/queue")
        # the same cookie is a session on the other server as well
        async with session.get(first.url + "/console/queue") as response:
            assert response.status == 200
            assert "张三" in await response.text()
    for _ in range(5):
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            status, _, _ = await Browser(first, s).login("staff_b", "wrong guess")
            assert status == 401
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        status, _, _ = await Browser(second, session).login("staff_b", PASSWORD)
        assert status == 429  # locked on the first, refused on the second


async def test_claim_reply_resolve_on_redis(two_servers: tuple[Server, Server]) -> None:
    first, second = two_servers
    mine = await first.referral(TOWNSHIP_A, address="d" * 32)
    theirs = await first.referral(TOWNSHIP_B)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        b = Browser(second, session)
        await b.login("staff_a")
        status, _ = await b.get(f"/console/referral/{theirs.reference}")
        assert status == 404
        base = f"/console/referral/{mine.reference}"
        assert (await b.post(f"{base}/claim", {}))[0] == 303
        assert (await b.post(f"{base}/reply", {"text": "明天上门"}))[0] == 303
        outbox = await first.services.store.get(OUTBOX, "d" * 32)
        assert outbox is not None
        assert "明天上门" in outbox["replies"][0]["text"]
        session_key = f"web:{'d' * 32}"
        resident, _ = await Sessions(first.services.store).load(session_key)
        assert resident.handover == mine.reference
        assert (await b.post(f"{base}/resolve", {"outcome": "已上门"}))[0] == 303
    done = await first.services.referrals.get(mine.reference)
    assert done is not None
    assert (done.status, done.assignee) == ("resolved", "staff_a")


async def test_taking_over_and_disabling_on_redis(two_servers: tuple[Server, Server]) -> None:
    first, second = two_servers
    one, two = await first.referral(TOWNSHIP_A), await first.referral(TOWNSHIP_A)
    jar = aiohttp.CookieJar
    async with (
        aiohttp.ClientSession(cookie_jar=jar(unsafe=True)) as s1,
        aiohttp.ClientSession(cookie_jar=jar(unsafe=True)) as s2,
        aiohttp.ClientSession(cookie_jar=jar(unsafe=True)) as s3,
    ):
        staff, supervisor, admin = Browser(second, s1), Browser(first, s2), Browser(second, s3)
        await staff.login("staff_a")
        for referral in (one, two):
            assert (await staff.post(f"/console/referral/{referral.reference}/claim", {}))[0] == 303
        await supervisor.login("super_yz")
        base = f"/console/referral/{one.reference}"
        await supervisor.get(base)
        form = {"holder": "staff_a", "to": "super_yz"}
        assert (await supervisor.post(f"{base}/takeover", form))[0] == 303
        assert (await supervisor.post(f"{base}/resolve", {"outcome": "已上门"}))[0] == 303
        await admin.login("boss")
        assert (await admin.post("/console/users/staff_a", {"do": "disable"}))[0] == 303
    done = await second.services.referrals.get(one.reference)
    assert done is not None
    assert (done.status, done.assignee) == ("resolved", "super_yz")
    back = await first.services.referrals.get(two.reference)
    assert back is not None
    assert (back.status, back.assignee, back.audit[-1]["who"]) == ("new", None, "boss")
