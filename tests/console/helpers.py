"""What the console tests share (the fixtures are in conftest.py): the users, one per
role, the services made of real pieces, the running server, and an HTTP client that
keeps its cookies and the page's CSRF token like a browser."""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bot.config import Config
from bot.console.common import CONSOLE, Console
from bot.delivery import Delivery
from bot.metrics import Metrics
from bot.referrals import Draft, Referral
from bot.store import Store
from integrations.window import Window

LOG2_N = 12  # cheap scrypt for tests; tests/console/test_passwords.py checks the default
PASSWORD = "correct horse battery"
TOWNSHIP_A = "渝中区/解放碑街道"
TOWNSHIP_B = "渝中区/七星岗街道"
OTHER_DISTRICT = "奉节县/永安街道"
USERS = {
    "staff_a": ("staff", TOWNSHIP_A, "张三"),
    "staff_b": ("staff", TOWNSHIP_B, "李四"),
    "staff_f": ("staff", OTHER_DISTRICT, "王五"),
    "super_yz": ("supervisor", "渝中区", "赵六"),
    "super_fj": ("supervisor", "奉节县", "钱七"),
    "op": ("operator", None, "孙八"),
    "boss": ("admin", None, "周九"),
}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Services:
    store: Store
    referrals: Window
    delivery: Delivery
    config: Config
    metrics: Metrics = field(default_factory=Metrics)


@dataclass
class Server:
    url: str
    services: Services
    app: web.Application

    @property
    def console(self) -> Console:
        return self.app[CONSOLE]

    async def referral(
        self, township: str | None = TOWNSHIP_A, level: str = "urgent", **more: Any
    ) -> Referral:
        district, _, town = (township or "").partition("/")
        draft = Draft(
            key=f"test:{uuid.uuid4().hex}",
            level=level,
            channel=more.pop("channel", "web"),
            address=more.pop("address", "a" * 32),
            district=district or None,
            township=town or None,
            contact=more.pop("contact", "13800138000"),
            signals=more.pop("signals", ["no_food"]),
            message=more.pop("message", "家里没米了，娃儿还小"),
            consent=True,
            **more,
        )
        return await self.services.referrals.create(draft)


async def add_users(console: Console) -> None:
    for name, (role, scope, display) in USERS.items():
        await console.users.add(name, role, scope, PASSWORD, display)


class Browser:
    """An HTTP client with its own cookies, like one browser."""

    def __init__(self, server: Server, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session
        self.csrf = ""

    async def get(self, path: str, **kwargs: Any) -> tuple[int, str]:
        async with self.session.get(self.server.url + path, allow_redirects=True, **kwargs) as r:
            text = await r.text()
            found = CSRF.search(text)
            if found:
                self.csrf = found.group(1)
            return r.status, text

    async def post(
        self, path: str, data: dict[str, str], *, csrf: bool = True, follow: bool = False
    ) -> tuple[int, str, str]:
        """Status, body, and the Location of a redirect ("" when none)."""
        form = {"csrf": self.csrf, **data} if csrf else dict(data)
        async with self.session.post(
            self.server.url + path, data=form, allow_redirects=follow
        ) as r:
            return r.status, await r.text(), r.headers.get("Location", "")

    async def login(self, name: str, password: str = PASSWORD) -> tuple[int, str, str]:
        await self.get("/console/login")
        status, body, location = await self.post(
            "/console/login", {"name": name, "password": password}
        )
        if status == 303:
            await self.get(location)  # picks up the session's CSRF token
        return status, body, location


async def logged_in(make: Callable[[], Browser], name: str) -> Browser:
    """A new browser (`make`: the `browser` fixture) with `name` logged in."""
    browser = make()
    await browser.login(name)
    return browser
