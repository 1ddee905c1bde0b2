"""`POST /sms/tencent`: Tencent Cloud SMS reply callbacks (短信回复).

The body is one JSON object `{"extend", "mobile", "nationcode", "sign", "text",
"time"}` (time in unix seconds); the answer is `{"result":0,"errmsg":"OK"}`
(../shared/reference/channels.md, "SMS"). Not signed: protected by `SMS_WEBHOOK_TOKEN`
in the path or the query, like /sms/aliyun. Tencent gives no message id, so the
delivery id is a hash of mobile + time + text (the text is not kept in the key).
Replies go out through the outbound gateway, as for Aliyun.
"""

from __future__ import annotations

import hashlib
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

# Tencent's contract, byte for byte (compact), not words for a resident.
ACK = '{"result":0,"errmsg":"OK"}'


def parse(body: bytes) -> Message:
    try:
        data: Any = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed("not JSON") from exc
    if not isinstance(data, dict):
        raise Malformed("expected a JSON object")
    mobile, text, sent = data.get("mobile"), data.get("text"), data.get("time")
    nationcode = data.get("nationcode") or "86"
    if not isinstance(mobile, str) or not isinstance(text, str):
        raise Malformed("mobile and text are required")
    if isinstance(sent, bool) or not isinstance(sent, int) or not isinstance(nationcode, str):
        raise Malformed("time (unix seconds) is required")
    number = e164(mobile, country=nationcode.lstrip("+"))
    digest = hashlib.sha256(f"{number}\n{sent}\n{text}".encode()).hexdigest()[:32]
    return Message(number, text, f"tencent:{digest}")


def handler(channel: SmsChannel, token: str) -> Handler:
    async def sms_tencent(request: web.Request) -> web.Response:
        try:
            with channel.inbox.observe("sms") as seen:
                if not token_matches(request_token(request), token):
                    seen.outcome = "rejected"
                    return web.Response(status=403, text="forbidden")
                try:
                    message = parse(await request.read())
                except Malformed as exc:
                    seen.outcome = "rejected"
                    return web.Response(status=400, text=str(exc))
                received = await channel.receive(message)
                if received.duplicate:
                    seen.outcome = "duplicate"
                try:
                    await channel.reply(message, received)
                except GatewayError:
                    seen.outcome = "unavailable"
                    return web.Response(status=503, text="gateway unavailable")
                return web.Response(text=ACK, content_type="application/json")
        except StoreUnavailable:
            return web.Response(status=503, text="store unavailable, retry later")

    return sms_tencent
