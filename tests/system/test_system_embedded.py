"""`residentbot serve` on the embedded store (SQLite in its data directory) killed with
SIGKILL in the middle of a load of conversations, then started again on the same data
(issue 7, "Scale-out and faults"): the gateway delivers again whatever got no answer,
and every resident's questionnaire resumes where it was — no answer lost or applied
twice, no referral lost or made twice. The same on Redis: tests/system/test_system_redis.py.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.config import Config
from bot.store.embedded import EmbeddedStore
from tests.system.support import (
    Gateway,
    Resident,
    Server,
    check_outcome,
    fresh_number,
    plans,
    queue_for,
    references,
    start_all,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server("embedded", tmp_path, {"RESIDENTBOT_RATE_LIMIT": "60"})
    try:
        start_all([running])
        yield running
    finally:
        running.stop()


async def think() -> None:
    await asyncio.sleep(random.uniform(0, 0.01))


async def test_a_server_killed_under_load_resumes_every_conversation(server: Server) -> None:
    store = EmbeddedStore(server.data)  # the server's own file, read to know what it asks
    window = queue_for(Config(data_dir=server.data))
    try:
        async with aiohttp.ClientSession() as http:
            kinds = plans(24)
            expected = await references(Gateway(http), store, lambda: server, kinds, {})
            residents = [Resident(fresh_number(), plan) for plan in kinds]
            gateway = Gateway(http)
            restarted = asyncio.Event()

            async def kill_midway() -> None:
                await gateway.until_answered(150)
                server.kill()
                await asyncio.to_thread(start_all, [server])
                restarted.set()

            fault = asyncio.create_task(kill_midway())
            await asyncio.gather(
                *(r.converse(gateway, store, lambda: server, think) for r in residents)
            )
            await fault
        assert restarted.is_set()
        assert gateway.statuses.unreachable > 0  # deliveries failed, and were made again
        assert set(gateway.statuses.seen) == {200}
        await check_outcome(residents, expected, window)
    finally:
        await window.close()
        await store.close()
