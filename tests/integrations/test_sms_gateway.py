"""Outbound SMS clients against a local aiohttp server that records what it got
(integrations/sms/gateway.py): Twilio's REST API and the generic JSON gateway, with
timeouts and retries."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.config import Config
from integrations.sms.gateway import (
    GatewayError,
    HttpGateway,
    Retry,
    TwilioGateway,
    open_gateway,
)
from tests.channel_support import GatewayRecorder, gateway_server

FAST = Retry(attempts=3, backoff=0.01, timeout=0.5)


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[GatewayRecorder, str]]:
    async with gateway_server() as running:
        yield running


async def test_twilio_posts_the_form_with_basic_auth(gateway: tuple[GatewayRecorder, str]) -> None:
    recorder, base = gateway
    client = TwilioGateway("AC123", "secret-token", "+15005550006", base_url=base, retry=FAST)
    try:
        await client.send("+8613800000001", "您好，低保标准是每月770元。")
    finally:
        await client.close()
    (got,) = recorder.requests
    assert got["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert got["form"] == {
        "To": "+8613800000001",
        "From": "+15005550006",
        "Body": "您好，低保标准是每月770元。",
    }
    assert got["headers"]["Authorization"] == "Basic QUMxMjM6c2VjcmV0LXRva2Vu"  # AC123:secret-token


async def test_json_gateway_retries_server_errors_with_one_idempotency_key(
    gateway: tuple[GatewayRecorder, str],
) -> None:
    recorder, base = gateway
    recorder.script = [503, 500]
    client = HttpGateway(base + "/send", token="relay-token", provider="aliyun", retry=FAST)
    try:
        await client.send("+8613800000001", "第一条")
    finally:
        await client.close()
    assert len(recorder.requests) == 3  # two failures, then accepted
    keys = {r["headers"]["Idempotency-Key"] for r in recorder.requests}
    assert len(keys) == 1
    assert all(r["headers"]["Authorization"] == "Bearer relay-token" for r in recorder.requests)
    assert json.loads(recorder.requests[-1]["body"]) == {
        "to": "+8613800000001",
        "text": "第一条",
        "provider": "aliyun",
    }


async def test_a_timeout_is_retried(gateway: tuple[GatewayRecorder, str]) -> None:
    recorder, base = gateway
    recorder.delay = 2.0  # the first request hangs past the 0.5 s timeout
    client = HttpGateway(base + "/send", retry=FAST)
    try:
        await client.send("+8613800000001", "短信")
    finally:
        await client.close()
    assert len(recorder.requests) == 2


async def test_a_client_error_is_final(gateway: tuple[GatewayRecorder, str]) -> None:
    recorder, base = gateway
    recorder.script = [400, 201]
    client = HttpGateway(base + "/send", retry=FAST)
    try:
        with pytest.raises(GatewayError, match="HTTP 400"):
            await client.send("+8613800000001", "短信")
    finally:
        await client.close()
    assert len(recorder.requests) == 1


async def test_giving_up_after_the_last_attempt(gateway: tuple[GatewayRecorder, str]) -> None:
    recorder, base = gateway
    recorder.script = [502, 502, 502, 201]
    client = HttpGateway(base + "/send", retry=FAST)
    try:
        with pytest.raises(GatewayError, match="HTTP 502"):
            await client.send("+8613800000001", "短信")
    finally:
        await client.close()
    assert len(recorder.requests) == 3


async def test_an_unreachable_gateway_fails_after_retries() -> None:
    from tests.conftest import free_port

    client = HttpGateway(f"http://127.0.0.1:{free_port()}/send", retry=FAST)
    try:
        with pytest.raises(GatewayError, match="ClientConnector"):
            await client.send("+8613800000001", "短信")
    finally:
        await client.close()


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
