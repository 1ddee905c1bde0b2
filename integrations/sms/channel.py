"""The SMS channel: what every SMS route (Twilio, Aliyun, Tencent) does after it has
authenticated and parsed a delivery, and the sender for messages sent later.

One inbound SMS, under a lock on its number:
1. A delivery id seen before is acknowledged with what was answered the first time and
   has no second effect (the record is in the store, so it survives a restart).
2. 退订/TD/STOP opts the number out: confirmed with one last SMS, and from then on no SMS
   goes to it (`SmsSender` refuses, replies are dropped) except the confirmation of
   订阅, which opts it back in. A message from an opted-out number reaches the
   conversation only when it is an emergency (RULES.md "Urgency": every message is
   triaged first; the resident wrote to us, and life comes before the preference).
3. 全文/继续 sends the rest of a reply that was too long for 3 parts, if one is waiting.
4. Anything else goes to the router; its replies are joined and split into at most 3
   numbered parts (integrations/sms/segments.py). A turn ends with what the resident is
   asked, which is kept whole (the text before it is cut instead), except after an
   emergency: then the safety advice and the reference come first, each part ending
   after a sentence so that every instruction arrives whole, and what was asked waits
   for 全文 when it does not fit after them.

Numbers are kept as E.164 (+8613812345678) whichever gateway they came from, so a
resident is the same person on every route. Nothing logs numbers or text.
"""

from __future__ import annotations

import functools
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from aiohttp import web

from bot.delivery import DeliveryError
from bot.inbox import Inbox
from bot.messages import Inbound, Reply
from bot.render import render_reply
from bot.store import Store, Unit
from integrations.sms.gateway import Gateway, GatewayError
from integrations.sms.segments import Split, split, split_turn
from knowledge.text import compact
from knowledge.triage import triage

log = logging.getLogger(__name__)

CHANNEL = "sms"
OPTOUT = "optout"  # store namespace: numbers that opted out
DONE = "smsdone"  # store namespace: deliveries handled, with what was answered
MORE = "smsmore"  # store namespace: the rest of a reply too long for 3 parts
DONE_TTL = 7 * 24 * 3600.0  # gateways retry for minutes to hours; a week is ample
MORE_TTL = 24 * 3600.0
KEYWORDS_FILE = Path(__file__).resolve().parent / "keywords.yaml"

Handler = Callable[[web.Request], Awaitable[web.Response]]


class Malformed(ValueError):
    """A body that is not what the gateway sends: answered 400, with no side effect."""


@dataclass(frozen=True)
class Message:
    """One inbound SMS as a provider module parsed it."""

    sender: str  # E.164
    text: str
    delivery_id: str  # `<provider>:<the provider's id>`


@dataclass(frozen=True)
class Received:
    texts: list[str]  # the SMS to answer with (empty: answer nothing)
    duplicate: bool = False
    sent: bool = False  # already sent through the gateway (out-of-band routes)


_DIGITS = re.compile(r"\d{5,15}")


def e164(number: str, country: str = "86") -> str:
    """+8613812345678 from '13812345678', '8613812345678', '+86 138-1234-5678'."""
    raw = re.sub(r"[\s()-]", "", number)
    plus = raw.startswith("+")
    digits = raw.lstrip("+")
    if digits.startswith("00"):
        digits, plus = digits[2:], True
    if not _DIGITS.fullmatch(digits):
        raise Malformed("not a phone number")
    if plus:
        return f"+{digits}"
    if country == "86" and len(digits) == 11 and digits.startswith("1"):
        return f"+86{digits}"
    if country == "86" and len(digits) == 13 and digits.startswith("861"):
        return f"+{digits}"
    return f"+{country}{digits}"


@functools.cache
def _keywords() -> dict[str, str]:
    with KEYWORDS_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    table: dict[str, str] = {}
    for kind, words in data.items():
        for word in words:
            key = compact(str(word))
            if key in table:
                raise ValueError(f"keywords.yaml: {word!r} listed twice")
            table[key] = kind
    return table


def keyword(text: str) -> str | None:
    """`optout`, `optin` or `more` when the whole message is one of those words."""
    return _keywords().get(compact(text))


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a webhook secret."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def request_token(request: web.Request) -> str | None:
    """The secret from the path (`/sms/aliyun/{token}`) or the query (`?token=`)."""
    return request.match_info.get("token") or request.query.get("token")


class SmsChannel:
    def __init__(self, inbox: Inbox, store: Store, gateway: Gateway | None) -> None:
        self.inbox = inbox
        self.store = store
        self.gateway = gateway

    async def opted_out(self, number: str) -> bool:
        return await self.store.get(OPTOUT, number) is not None

    async def receive(self, message: Message) -> Received:
        """What to answer one delivery with; recorded against its delivery id. One unit
        under the sender's lock: this channel's records and the router's come with the
        lock and are written together at the end (bot/store/__init__.py, `locked`)."""
        number = message.sender
        inbound = Inbound(CHANNEL, number, message.text, message.delivery_id)
        reads = [(DONE, message.delivery_id), (OPTOUT, number), (MORE, number)]
        async with self.inbox.locked(inbound, reads) as unit:
            seen = await unit.get(DONE, message.delivery_id)
            if seen is not None:
                return Received(list(seen["texts"]), duplicate=True, sent=bool(seen["sent"]))
            texts = await self._respond(unit, inbound)
            record = {"texts": texts, "sent": not texts}
            unit.put(DONE, message.delivery_id, record, ttl=DONE_TTL)
            return Received(texts, sent=not texts)

    async def reply(self, message: Message, received: Received) -> None:
        """Send an answer through the gateway, once (routes whose gateway does not take an
        answer in the HTTP response). A GatewayError leaves it unsent: the route answers
        non-success, the gateway delivers again, and the duplicate is sent then."""
        if received.sent:
            return
        if self.gateway is None:
            raise GatewayError("no outbound gateway (SMS_PROVIDER)")
        for text in received.texts:
            await self.gateway.send(message.sender, text)
        record = {"texts": received.texts, "sent": True}
        await self.store.put(DONE, message.delivery_id, record, ttl=DONE_TTL)

    async def _respond(self, unit: Unit, inbound: Inbound) -> list[str]:
        number, word = inbound.sender, keyword(inbound.text)
        opted_out = await unit.get(OPTOUT, number) is not None
        if word == "optout":
            if opted_out:
                return []  # already confirmed once; nothing more is sent
            unit.put(OPTOUT, number, {"at": time.time()})
            unit.delete(MORE, number)
            return [self._say("sms_optout")]
        if word == "optin":
            unit.delete(OPTOUT, number)
            return [self._say("sms_optin")]
        if opted_out and triage(inbound.body).level != "emergency":
            return []
        if word == "more":
            waiting = await unit.get(MORE, number)
            if waiting is not None:
                return self._keep_rest(unit, number, [str(waiting["rest"])])
        handled = await self.inbox.handle_in(unit, inbound)
        texts = [reply.text for reply in handled.replies]
        return self._keep_rest(unit, number, texts, said=inbound.body)

    def _keep_rest(
        self, unit: Unit, number: str, texts: Sequence[str], said: str = ""
    ) -> list[str]:
        """`compose`, the rest kept (or forgotten) with the unit's writes."""
        result = self.compose(texts, said)
        if result.truncated:
            unit.put(MORE, number, {"rest": result.rest}, ttl=MORE_TTL)
        else:
            unit.delete(MORE, number)
        return result.parts

    def compose(self, texts: Sequence[str], said: str = "") -> Split:
        """One turn's replies as at most 3 SMS, and the rest that waits for 全文.
        `said`: the message answered (after an emergency its text comes first, whole
        sentences in each part)."""
        more = self._say("sms_more")
        if said and triage(said).level == "emergency":
            text = "\n".join(t.strip() for t in texts if t.strip())
            return split(text, more=more, sentences=True)
        return split_turn(texts, more=more)

    @staticmethod
    @functools.cache
    def _say(template: str) -> str:
        """A fixed SMS line (no values): rendered once, not for every message."""
        return render_reply(CHANNEL, template, {}).text

    def sender(self) -> SmsSender:
        return SmsSender(self)


class SmsSender:
    """`bot.delivery.Sender` for SMS: staff replies and notifications, sent later."""

    def __init__(self, channel: SmsChannel) -> None:
        self.channel = channel

    async def send(self, address: str, replies: Sequence[Reply]) -> None:
        gateway = self.channel.gateway
        if gateway is None:
            raise DeliveryError("no_channel")
        try:
            address = e164(address)  # as senders are known: the opt-out list, 全文
        except Malformed as exc:
            raise DeliveryError("failed") from exc
        if await self.channel.opted_out(address):
            raise DeliveryError("opted_out")
        result = self.channel.compose([reply.text for reply in replies])
        store = self.channel.store  # not under the resident's lock: a gateway may take seconds
        if result.truncated:
            await store.put(MORE, address, {"rest": result.rest}, ttl=MORE_TTL)
        else:
            await store.delete(MORE, address)
        try:
            for text in result.parts:
                await gateway.send(address, text)
        except GatewayError as exc:
            raise DeliveryError("failed") from exc
