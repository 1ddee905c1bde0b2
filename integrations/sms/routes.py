"""The SMS routes the configuration enables: `/sms/twilio` with `TWILIO_AUTH_TOKEN`;
`/sms/aliyun` and `/sms/tencent` (the token in the query, or as a last path segment)
with `SMS_WEBHOOK_TOKEN`."""

from __future__ import annotations

from aiohttp import web

from bot.config import Config
from integrations.sms import aliyun, tencent, twilio
from integrations.sms.channel import SmsChannel


def routes(channel: SmsChannel, config: Config) -> list[web.RouteDef]:
    found = []
    if config.twilio_auth_token:
        found.append(
            web.post(
                "/sms/twilio", twilio.handler(channel, config.twilio_auth_token, config.public_url)
            )
        )
    if config.sms_webhook_token:
        for path, module in (("/sms/aliyun", aliyun), ("/sms/tencent", tencent)):
            handle = module.handler(channel, config.sms_webhook_token)
            found += [web.post(path, handle), web.post(path + "/{token}", handle)]
    return found
