"""Nothing the queue logs carries a resident's contact or words, nor an on-duty number,
on either backend, through a whole life including failures (every logger, at DEBUG)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.referrals import Draft
from integrations.window.base import Window
from integrations.window.embedded import EmbeddedWindow
from integrations.window.notify import HttpNotifier, Target, Targets
from integrations.window.redis import RedisWindow

PHONE = "13800138000"
ON_DUTY = "13900139000"
SECRETS = (PHONE, ON_DUTY, "家里断粮三天了", "下午两点到您家", "张大爷已领到救助", "什么时候来人")


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def relay_url() -> AsyncIterator[str]:
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=500, text=await request.text())

    app = web.Application()
    app.router.add_post("/notify", refuse)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/notify"
    await runner.cleanup()


@pytest.mark.parametrize("kind", ["embedded", pytest.param("redis", marks=pytest.mark.redis)])
async def test_no_contact_or_words_in_any_log(
    kind: str,
    tmp_path: Path,
    relay_url: str,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    options: dict[str, Any] = {
        "clock": clock,
        "claim_timeout": 0.2,
        "notifier": HttpNotifier(relay_url),
        "targets": Targets({"渝中区/解放碑街道": (Target("sms", ON_DUTY),)}),
        "retry_delays": (0.01,),
    }
    window: Window
    if kind == "embedded":
        window = EmbeddedWindow(tmp_path, **options)
    else:
        window = RedisWindow(request.getfixturevalue("redis_url"), **options)
    try:
        await window.start()
        draft = Draft(key=f"sms:+86{PHONE}:SM1", level="urgent", channel="sms",
                      address=f"+86{PHONE}", district="渝中区", township="解放碑街道",
                      contact=PHONE, message=SECRETS[2], consent=True)  # fmt: skip
        created = await window.create(draft)
        ref = created.reference
        await window.add_message(ref, "resident", SECRETS[5])
        await window.claim(ref, "zhang")
        clock.now += 1
        await asyncio.sleep(0.4)
        assert await window.reclaim_abandoned() == [ref]
        assert await window.escalate_due(created.deadline + 1) == [ref]
        await window.claim(ref, "li")
        await window.reply(ref, "li", SECRETS[3])
        await window.resolve(ref, "li", SECRETS[4])
        for _ in range(200):  # the failed notification has been recorded
            current = await window.get(ref)
            if current is not None and any(n["status"] == "failed" for n in current.notifications):
                break
            await asyncio.sleep(0.02)
        assert await window.purge_personal_data(-1.0) == 1
    finally:
        await window.close()
    messages = [record.getMessage() for record in caplog.records]
    logged = "\n".join(messages)
    assert f"referral {ref} queued" in logged  # the logs are there, and useful
    assert "escalated" in logged
    assert "timed out" in logged
    assert "failed after" in logged
    assert "139****9000" in logged  # the on-duty number, masked
    for secret in SECRETS:
        assert secret not in logged
