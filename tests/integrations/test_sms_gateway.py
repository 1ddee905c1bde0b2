"""Outbound SMS clients against a local aiohttp server that records what it got
(integrations/sms/gateway.py): Twilio's REST API and the generic JSON gateway, with
timeouts and retries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config import Config
from integrations.sms.gateway import (
    GatewayError,
    HttpGateway,
    Retry,
    TwilioGateway,
    open_gateway,
)

FAST = Retry(attempts=3, backoff=0.01, timeout=0.5)


@dataclass
class Recorder:
    """A gateway double: answers each request with the next status of `script`
    (then 201), optionally after a delay, and keeps what it received."""

    script: list[int] = field(default_factory=list)
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(
            {
                "path": request.path,
                "headers": dict(request.headers),
                "body": body,
                "form": dict(await request.post())
                if request.content_type.endswith("urlencoded")
                else None,
            }
        )
        if self.delay and len(self.requests) == 1:
            await asyncio.sleep(self.delay)
        status = self.script.pop(0) if self.script else 201
        return web.json_response({"sid": "SM1"} if status < 300 else {"error": 1}, status=status)


@pytest.fixture
async def gateway_server() -> AsyncIterator[tuple[Recorder, str]]:
    recorder = Recorder()
    app = web.Application()
    app.router.add_post("/{tail:.*}", recorder.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield recorder, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def test_twilio_posts_the_form_with_basic_auth(gateway_server: tuple[Recorder, str]) -> None:
    recorder, base = gateway_server
    gateway = TwilioGateway("AC123", "secret-token", "+15005550006", base_url=base, retry=FAST)
    try:
        await gateway.send("+8613800000001", "您好，低保标准是每月770元。")
    finally:
        await gateway.close()
    (got,) = recorder.requests
    assert got["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert got["form"] == {
        "To": "+8613800000001",
        "From": "+15005550006",
        "Body": "您好，低保标准是每月770元。",
    }
    assert got["headers"]["Authorization"] == "Basic QUMxMjM6c2VjcmV0LXRva2Vu"  # AC123:secret-token


async def test_json_gateway_retries_server_errors_with_one_idempotency_key(
    gateway_server: tuple[Recorder, str],
) -> None:
    recorder, base = gateway_server
    recorder.script = [503, 500]
    gateway = HttpGateway(base + "/send", token="relay-token", provider="aliyun", retry=FAST)
    try:
        await gateway.send("+8613800000001", "第一条")
    finally:
        await gateway.close()
    assert len(recorder.requests) == 3  # two failures, then accepted
    keys = {r["headers"]["Idempotency-Key"] for r in recorder.requests}
    assert len(keys) == 1
    assert all(r["headers"]["Authorization"] == "Bearer relay-token" for r in recorder.requests)
    assert json.loads(recorder.requests[-1]["body"]) == {
        "to": "+8613800000001",
        "text": "第一条",
        "provider": "aliyun",
    }


async def test_a_timeout_is_retried(gateway_server: tuple[Recorder, str]) -> None:
    recorder, base = gateway_server
    recorder.delay = 2.0  # the first request hangs past the 0.5 s timeout
    gateway = HttpGateway(base + "/send", retry=FAST)
    try:
        await gateway.send("+8613800000001", "短信")
    finally:
        await gateway.close()
    assert len(recorder.requests) == 2


async def test_a_client_error_is_final(gateway_server: tuple[Recorder, str]) -> None:
    recorder, base = gateway_server
    recorder.script = [400, 201]
    gateway = HttpGateway(base + "/send", retry=FAST)
    try:
        with pytest.raises(GatewayError, match="HTTP 400"):
            await gateway.send("+8613800000001", "短信")
    finally:
        await gateway.close()
    assert len(recorder.requests) == 1


async def test_giving_up_after_the_last_attempt(gateway_server: tuple[Recorder, str]) -> None:
    recorder, base = gateway_server
    recorder.script = [502, 502, 502, 201]
    gateway = HttpGateway(base + "/send", retry=FAST)
    try:
        with pytest.raises(GatewayError, match="HTTP 502"):
            await gateway.send("+8613800000001", "短信")
    finally:
        await gateway.close()
    assert len(recorder.requests) == 3


async def test_an_unreachable_gateway_fails_after_retries() -> None:
    from tests.conftest import free_port

    gateway = HttpGateway(f"http://127.0.0.1:{free_port()}/send", retry=FAST)
    try:
        with pytest.raises(GatewayError, match="ClientConnector"):
            await gateway.send("+8613800000001", "短信")
    finally:
        await gateway.close()


def test_the_configuration_picks_the_gateway() -> None:
    twilio = open_gateway(
        Config.from_env(
            {
                "SMS_PROVIDER": "twilio",
                "TWILIO_ACCOUNT_SID": "AC1",
                "TWILIO_AUTH_TOKEN": "t",
                "TWILIO_FROM": "+1500",
                "TWILIO_API_BASE_URL": "http://127.0.0.1:9/",
            }
        )
    )
    assert isinstance(twilio, TwilioGateway)
    assert twilio.url == "http://127.0.0.1:9/2010-04-01/Accounts/AC1/Messages.json"
    relay = open_gateway(
        Config.from_env(
            {
                "SMS_PROVIDER": "tencent",
                "SMS_GATEWAY_URL": "http://127.0.0.1:9/sms",
            }
        )
    )
    assert isinstance(relay, HttpGateway)
    assert relay.provider == "tencent"
    assert open_gateway(Config.from_env({})) is None
