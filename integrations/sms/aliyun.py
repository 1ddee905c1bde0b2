"""`POST /sms/aliyun`: Aliyun SMS upstream (上行) messages, pushed over HTTP.

The body is a JSON array of `{"phone_number", "content", "send_time", "dest_code",
"sequence_id", "sign_name"}`; the answer that stops Aliyun's retries (1, 5, 10 min) is
HTTP 200 `{"code":0,"msg":"接收成功"}` (../shared/reference/channels.md, "SMS").
The push is not signed, so the route is protected by `SMS_WEBHOOK_TOKEN` in the path
(`/sms/aliyun/{token}`) or the query (`?token=`). `sequence_id` is the delivery id.

Replies cannot travel in the HTTP answer: they go out through the outbound gateway
(`SMS_PROVIDER`). If that fails the route answers 503 and Aliyun's redelivery sends
the recorded replies, without a second effect on the conversation.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.store import StoreUnavailable
from integrations.sms.channel import (
    Handler,
    Malformed,
    Message,
    SmsChannel,
    e164,
    request_token,
    token_matches,
)
from integrations.sms.gateway import GatewayError

# Aliyun's contract, byte for byte (compact, UTF-8), not words for a resident.
ACK = '{"code":0,"msg":"接收成功"}'


def parse(body: bytes) -> list[Message]:
    try:
        data: Any = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed("not JSON") from exc
    if not isinstance(data, list):
        raise Malformed("expected a JSON array")
    messages = []
    for item in data:
        if not isinstance(item, dict):
            raise Malformed("expected objects in the array")
        number, content, sequence = (
            item.get("phone_number"),
            item.get("content"),
            item.get("sequence_id"),
        )
        if not isinstance(number, str) or not isinstance(content, str):
            raise Malformed("phone_number and content are required")
        if isinstance(sequence, bool) or not isinstance(sequence, int | str) or sequence == "":
            raise Malformed("sequence_id is required")
        messages.append(Message(e164(number), content, f"aliyun:{sequence}"))
    return messages


def handler(channel: SmsChannel, token: str) -> Handler:
    async def sms_aliyun(request: web.Request) -> web.Response:
        try:
            with channel.inbox.observe("sms") as seen:
                if not token_matches(request_token(request), token):
                    seen.outcome = "rejected"
                    return web.Response(status=403, text="forbidden")
                try:
                    messages = parse(await request.read())
                except Malformed as exc:
                    seen.outcome = "rejected"
                    return web.Response(status=400, text=str(exc))
                duplicates = 0
                for message in messages:
                    received = await channel.receive(message)
                    duplicates += received.duplicate
                    try:
                        await channel.reply(message, received)
                    except GatewayError:
                        seen.outcome = "unavailable"
                        return web.Response(status=503, text="gateway unavailable")
                if messages and duplicates == len(messages):
                    seen.outcome = "duplicate"
                return web.Response(text=ACK, content_type="application/json")
        except StoreUnavailable:
            return web.Response(status=503, text="store unavailable, retry later")

    return sms_aliyun
