"""Fixtures of the console tests: the real pieces (embedded store and referral queue in
tmp_path, the real web-chat outbox behind `bot.delivery.Delivery`), an aiohttp server on
a free port of 127.0.0.1 with one user per role, and HTTP clients with their own cookies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.config import Config
from bot.console import setup
from bot.console.common import CONSOLE
from bot.delivery import Delivery
from bot.store.embedded import EmbeddedStore
from bot.web import WebOutbox
from integrations.window.embedded import EmbeddedWindow
from tests.console.helpers import LOG2_N, Browser, Server, Services, add_users, free_port


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    store = EmbeddedStore(tmp_path / "store")
    window = EmbeddedWindow(tmp_path / "window")
    delivery = Delivery({"web": WebOutbox(store)})
    config = Config(data_dir=tmp_path)
    yield Services(store, window, delivery, config)
    await window.close()
    await store.close()


@pytest.fixture
async def server(services: Services) -> AsyncIterator[Server]:
    app = web.Application()
    setup(app, services, log2_n=LOG2_N)
    await add_users(app[CONSOLE])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield Server(f"http://127.0.0.1:{port}", services, app)
    await runner.cleanup()


@pytest.fixture
async def browser(server: Server) -> AsyncIterator[Callable[[], Browser]]:
    sessions: list[aiohttp.ClientSession] = []

    def make() -> Browser:
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(session)
        return Browser(server, session)

    yield make
    for session in sessions:
        await session.close()
