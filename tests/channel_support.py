"""Shared by the channel tests (tests/integrations/test_sms*.py, test_telegram*.py,
tests/bot/test_web*.py, test_app*.py): the real application from `bot.app`, served by a
real aiohttp server on 127.0.0.1, and a resident who answers the screening questions.

The resident answers whatever question the session in the store says is current, so the
tests follow the questionnaire as it is, through the channel under test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from telegram.request import BaseRequest

from bot.app import Services, make_app
from bot.config import Config
from bot.sessions import NAMESPACE as SESSIONS

# A 67-year-old living alone in the countryside of 奉节县 on 150 yuan of farming and 200
# of support a month, 3000 yuan saved, one home, nobody to support her (the household of
# CONTRACTS.md): 低保 and 特困 likely (RULES.md programs 1 and 4).
ANSWERS: Mapping[str, str] = {
    "district": "奉节县",
    "area": "农村",
    "receiving": "没有",
    "rise": "不是",
    "size": "1",
    "ages": "67",
    "situation": "都没有",
    "grade": "不知道",
    "kind": "不知道",
    "wages": "0",
    "labour": "150",
    "basic_pension": "180",
    "other": "200",
    "support": "200",
    "own": "不知道",
    "savings": "3000",
    "vehicle": "0",
    "vehicle_value": "0",
    "homes": "1",
    "supporter": "没有",
    "hardship": "都没有",
    "insurance": "没有",
}


def config_for(data_dir: Path, env: Mapping[str, str] | None = None) -> Config:
    return Config.from_env({"RESIDENTBOT_DATA_DIR": str(data_dir), **(env or {})})


@asynccontextmanager
async def serving(
    data_dir: Path,
    env: Mapping[str, str] | None = None,
    *,
    telegram_request: BaseRequest | None = None,
    prepare: Callable[[web.Application], None] | None = None,
) -> AsyncIterator[tuple[Services, TestClient[web.Request, web.Application]]]:
    """`make_app(Services.open(config))` on a real server; closed (and the services with
    it, by the app's cleanup) on exit."""
    services = await Services.open(config_for(data_dir, env), telegram_request=telegram_request)
    app = make_app(services)
    if prepare is not None:
        prepare(app)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield services, client
    finally:
        await client.close()


async def session_of(services: Services, key: str) -> dict[str, Any]:
    return await services.store.get(SESSIONS, key) or {}


async def answer_screening(
    services: Services,
    key: str,
    say: Callable[[str, str], Awaitable[None]],
    answers: Mapping[str, str] = ANSWERS,
    limit: int = 40,
) -> list[str]:
    """Answer the current screening question until the questionnaire ends. `say(state,
    text)` sends one answer through the channel under test. The states answered, in order."""
    asked: list[str] = []
    for _ in range(limit):
        session = await session_of(services, key)
        if session.get("flow") != "screening":
            return asked
        state = str(session["state"])
        asked.append(state)
        await say(state, answers.get(state, "不知道"))
    raise AssertionError(f"the questionnaire did not end after {limit} answers: {asked}")


@dataclass
class GatewayRecorder:
    """An SMS gateway double on a real local server: answers each request with the next
    status of `script` (then 201), the first one after `delay` seconds, and keeps what
    it received."""

    script: list[int] = field(default_factory=list)
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        form = None
        if request.content_type == "application/x-www-form-urlencoded":
            form = dict(await request.post())
        self.requests.append(
            {"path": request.path, "headers": dict(request.headers), "body": body, "form": form}
        )
        if self.delay and len(self.requests) == 1:
            await asyncio.sleep(self.delay)
        status = self.script.pop(0) if self.script else 201
        return web.json_response({"sid": "SM1"} if status < 300 else {"error": 1}, status=status)

    def texts(self) -> list[str]:
        """The SMS texts accepted so far (JSON gateway bodies)."""
        import json

        return [json.loads(r["body"])["text"] for r in self.requests]


@asynccontextmanager
async def gateway_server() -> AsyncIterator[tuple[GatewayRecorder, str]]:
    """A GatewayRecorder listening on 127.0.0.1, and its base URL."""
    recorder = GatewayRecorder()
    app = web.Application()
    app.router.add_post("/{tail:.*}", recorder.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield recorder, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()
