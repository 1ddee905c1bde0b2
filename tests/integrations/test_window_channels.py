"""Staff notifications through the bot's own channels, as `bot/app.py` wires them: the
real PTB bot against a fake Bot API on a real local aiohttp server (TELEGRAM_API_BASE_URL),
and the SMS gateway of SMS_PROVIDER=http against a local server that records what it got;
and what start-up says of targets that nothing can send."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.app import SERVICES, Services
from bot.config import ConfigError
from bot.referrals import Draft, Referral
from tests.channel_support import config_for, gateway_server, serving

PHONE = "13800138000"
WORDS = "家里断粮三天了"
GROUP = "-1001234567890"
ON_DUTY = "13900139000"
TOKEN = "123456:TEST-token"
TELEGRAM = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": "webhook_SECRET-123"}


@dataclass
class BotApi:
    """The Bot API's HTTP interface, on 127.0.0.1: records each call and its form."""

    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    message_id: int = 100
    refuse: str = ""  # sendMessage answers 403 with this description

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401}, status=401)
        method = request.match_info["method"]
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.calls.append((method, form))
        result: Any = True
        if method == "sendMessage" and self.refuse:
            body = {"ok": False, "error_code": 403, "description": self.refuse}
            return web.json_response(body, status=403)
        if method == "getMe":
            result = {"id": 1, "is_bot": True, "first_name": "救助助手", "username": "cq_bot"}
        elif method == "sendMessage":
            self.message_id += 1
            chat = {"id": int(form["chat_id"]), "type": "supergroup", "title": "解放碑街道"}
            result = {"message_id": self.message_id, "date": 0, "chat": chat,
                      "text": form["text"]}  # fmt: skip
        return web.json_response({"ok": True, "result": result})

    def sent(self) -> list[dict[str, str]]:
        return [form for method, form in self.calls if method == "sendMessage"]


@asynccontextmanager
async def bot_api() -> AsyncIterator[tuple[BotApi, str]]:
    api = BotApi()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", api.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield api, str(server.make_url("/bot"))
    finally:
        await server.close()


def notify_file(tmp_path: Path, data: dict[str, Any]) -> dict[str, str]:
    path = tmp_path / "staff" / "notify.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    return {"RESIDENTBOT_NOTIFY_FILE": str(path)}


def draft(level: str = "urgent", key: str = "web:a:1") -> Draft:
    return Draft(key=key, level=level, channel="web", address="a" * 32, district="渝中区",
                 township="解放碑街道", contact=PHONE, signals=["no_food"], message=WORDS,
                 consent=True)  # fmt: skip


async def notified(services: Services, reference: str, count: int) -> Referral:
    deadline = time.monotonic() + 10
    while True:
        referral = await services.referrals.get(reference)
        assert referral is not None
        if len(referral.notifications) >= count:
            return referral
        assert time.monotonic() < deadline, "not notified in time"
        await asyncio.sleep(0.02)


async def test_telegram_group_and_on_duty_phone_are_told_through_the_bots_own_channels(
    tmp_path: Path,
) -> None:
    targets = {"targets": {"渝中区/解放碑街道": [f"telegram:{GROUP}", f"sms:{ON_DUTY}"]}}
    async with bot_api() as (api, base), gateway_server() as (gateway, gateway_base):
        env = {
            **TELEGRAM,
            "TELEGRAM_API_BASE_URL": base,
            "SMS_PROVIDER": "http",
            "SMS_GATEWAY_URL": gateway_base + "/send",
            **notify_file(tmp_path, targets),
        }
        async with serving(tmp_path / "data", env) as (services, _):
            created = await services.referrals.create(draft())
            referral = await notified(services, created.reference, 2)
    notes = sorted((n["target"], n["status"]) for n in referral.notifications)
    assert notes == [("sms:139****9000", "delivered"), (f"telegram:{GROUP}", "delivered")]
    (message,) = api.sent()
    assert message["chat_id"] == GROUP
    assert "parse_mode" in message  # the channel's HTML; the text is escaped for it
    (sms,) = [json.loads(r["body"]) for r in gateway.requests]
    assert sms["to"] == "+86" + ON_DUTY  # E.164, as the gateways take numbers
    for text in (message["text"], sms["text"]):
        assert created.reference in text
        assert "急难" in text
        assert PHONE not in text
        assert WORDS not in text


async def test_with_no_targets_an_urgent_referral_shows_nobody_was_told(tmp_path: Path) -> None:
    async with serving(tmp_path) as (services, _):
        created = await services.referrals.create(draft(level="emergency"))
        referral = await notified(services, created.reference, 1)
        (summary,) = await services.referrals.list(["渝中区/解放碑街道"])
    (note,) = referral.notifications
    assert (note["status"], note["error"]) == ("failed", "no_target")
    assert summary.notification_failed


async def test_a_telegram_group_that_refuses_the_bot_is_retried_then_reported(
    tmp_path: Path,
) -> None:
    def quick_retries(app: web.Application) -> None:
        app[SERVICES].referrals.retry_delays = (0.01,)  # type: ignore[attr-defined]

    async with bot_api() as (api, base):
        api.refuse = "Forbidden: bot was kicked from the supergroup chat"
        env = {**TELEGRAM, "TELEGRAM_API_BASE_URL": base,
               **notify_file(tmp_path, {"targets": {"渝中区": [f"telegram:{GROUP}"]}})}  # fmt: skip
        async with serving(tmp_path / "data", env, prepare=quick_retries) as (services, _):
            created = await services.referrals.create(draft())
            referral = await notified(services, created.reference, 1)
            (summary,) = await services.referrals.list(["渝中区/解放碑街道"])
    (note,) = referral.notifications
    assert (note["target"], note["status"], note["attempts"]) == (f"telegram:{GROUP}", "failed", 2)
    assert len(api.sent()) == 2
    assert summary.notification_failed


Opened = Callable[[dict[str, str]], Awaitable[list[str]]]


@pytest.fixture
def start_up(tmp_path: Path) -> Opened:
    async def problems(env: dict[str, str]) -> list[str]:
        try:
            services = await Services.open(config_for(tmp_path / "data", env))
        except ConfigError as error:
            return error.problems
        await services.close()
        return []

    return problems


async def test_start_up_names_the_setting_each_target_kind_needs(
    tmp_path: Path, start_up: Opened
) -> None:
    both = {"targets": {"渝中区": [f"telegram:{GROUP}", f"sms:{ON_DUTY}"]}}
    found = await start_up(notify_file(tmp_path, both))
    assert [p.split(":")[0] for p in found] == ["SMS_PROVIDER", "TELEGRAM_BOT_TOKEN"]
    assert str(tmp_path / "staff" / "notify.yaml") in found[0]
    sms = {"SMS_PROVIDER": "http", "SMS_GATEWAY_URL": "http://127.0.0.1:9/send"}
    assert [p.split(":")[0] for p in await start_up({**notify_file(tmp_path, both), **sms})] == [
        "TELEGRAM_BOT_TOKEN"]  # fmt: skip
    relayed = {**both, "relay": "http://127.0.0.1:9/notify"}
    assert await start_up(notify_file(tmp_path, relayed)) == []
    other = {"targets": {"渝中区": ["wechat:duty-room"]}}
    (problem,) = await start_up(notify_file(tmp_path, other))
    assert problem.startswith("RESIDENTBOT_NOTIFY_FILE:")
    assert "relay" in problem


async def test_start_up_refuses_a_missing_or_broken_targets_file(
    tmp_path: Path, start_up: Opened
) -> None:
    missing = {"RESIDENTBOT_NOTIFY_FILE": str(tmp_path / "nowhere.yaml")}
    (problem,) = await start_up(missing)
    assert problem.startswith("RESIDENTBOT_NOTIFY_FILE:")
    broken = tmp_path / "broken.yaml"
    broken.write_text("targets:\n  渝中区: [13900139000]\n", encoding="utf-8")
    (problem,) = await start_up({"RESIDENTBOT_NOTIFY_FILE": str(broken)})
    assert problem.startswith("RESIDENTBOT_NOTIFY_FILE:")
    assert "kind:address" in problem
    named = {"targets": {"渝中区": ["telegram:@duty_group", "sms:duty-phone"]}}
    sms = {"SMS_PROVIDER": "http", "SMS_GATEWAY_URL": "http://127.0.0.1:9/send"}
    found = await start_up({**TELEGRAM, **sms, **notify_file(tmp_path, named)})
    assert [p.split(":")[0] for p in found] == ["RESIDENTBOT_NOTIFY_FILE"] * 2
    assert "phone number" in found[0]
    assert "chat id" in found[1]
