"""`POST /sms/twilio`: Twilio (and Twilio-compatible gateways) deliver an SMS as a form.

The form (`MessageSid`, `From`, `To`, `Body`, …) is signed: `X-Twilio-Signature` is
base64(HMAC-SHA1(auth token, URL + the sorted parameters)), checked with twilio's
`RequestValidator` against the URL Twilio called. Behind a reverse proxy that URL is
rebuilt from `X-Forwarded-Proto`/`X-Forwarded-Host`, or taken from
`RESIDENTBOT_PUBLIC_URL` when set (../shared/reference/channels.md, "SMS").

The answer goes back in-band as TwiML, one `<Message>` per SMS part, XML-escaped.
A forged request gets 403 and a malformed one 400, before anything is touched; a
repeated `MessageSid` gets the first time's TwiML again and nothing else happens.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from bot.store import StoreUnavailable
from integrations.sms.channel import Handler, Malformed, Message, SmsChannel, e164

SIGNATURE = "X-Twilio-Signature"
TWIML = "application/xml"


def public_url(request: web.Request, base: str | None) -> str:
    """The URL the gateway called: `base` + path and query when configured, else the
    request's own, with scheme and host from X-Forwarded-Proto/Host when a proxy set them."""
    if base:
        return base.rstrip("/") + request.raw_path
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip()
    host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
    return f"{proto or request.scheme}://{host or request.host}{request.raw_path}"


def parse(form: Mapping[str, object]) -> Message:
    sid, sender, body = form.get("MessageSid"), form.get("From"), form.get("Body")
    if not (isinstance(sid, str) and sid and isinstance(sender, str) and isinstance(body, str)):
        raise Malformed("MessageSid, From and Body are required")
    return Message(e164(sender), body, f"twilio:{sid}")


def twiml(texts: list[str]) -> str:
    response = MessagingResponse()
    for text in texts:
        response.message(text)
    return str(response)


def handler(channel: SmsChannel, auth_token: str, base_url: str | None) -> Handler:
    validator = RequestValidator(auth_token)

    async def sms_twilio(request: web.Request) -> web.Response:
        try:
            with channel.inbox.observe("sms") as seen:
                form = await request.post()
                signature = request.headers.get(SIGNATURE, "")
                url = public_url(request, base_url)
                if not signature or not validator.validate(url, form, signature):
                    seen.outcome = "rejected"
                    return web.Response(status=403, text="forbidden")
                try:
                    message = parse(form)
                except Malformed as exc:
                    seen.outcome = "rejected"
                    return web.Response(status=400, text=str(exc))
                received = await channel.receive(message)
                if received.duplicate:
                    seen.outcome = "duplicate"
                return web.Response(text=twiml(received.texts), content_type=TWIML)
        except StoreUnavailable:
            return web.Response(status=503, text="store unavailable, retry later")

    return sms_twilio
