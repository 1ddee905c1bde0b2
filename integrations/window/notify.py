"""Staff notifications: who is told about a referral, how, and the retries.

A new emergency or urgent referral (or one transferred in, or back in the queue with
nobody holding it: released or taken back) notifies its queue's staff; an escalated one
notifies its district's supervisors (issue 6, "Notifications"). The
text comes from `bot/templates/common/notify_<event>.j2` and carries the reference, the
level and the place, never the resident's personal data.

Targets come from a YAML file (`RESIDENTBOT_NOTIFY_FILE`, default `<data dir>/notify.yaml`):

    targets:
      渝中区/解放碑街道: ["telegram:-1001234567890", "sms:13800000000"]
      渝中区: ["sms:13900000000"]         # supervisors: escalations, district referrals
      unrouted: ["sms:13700000000"]       # hotline supervisors: the last resort
    relay: http://127.0.0.1:9100/notify   # optional: for kinds the bot cannot send itself

A queue without targets falls back to its district's, then to `unrouted`'s; with none
at all the referral records a failed notification ("no_target") so the console shows
that nobody was told.

`Notifier` is one small async contract: `send(target, text)` returns once delivered and
raises otherwise. `ChannelNotifier` sends through the bot's own channels
(`bot.delivery.Delivery`): `telegram:<chat id>` through the Telegram bot (PTB, with its
rate limiter), `sms:<number>` through the SMS gateway of `SMS_PROVIDER`; any other kind,
or one whose channel is not wired, goes to the relay, if there is one: `HttpNotifier`
posts `{"target": {"kind", "address"}, "text"}` as JSON (Bearer `RESIDENTBOT_NOTIFY_TOKEN`
when set). `bot/app.py` refuses to start when a target's kind has no way out. `deliver`
retries one target with growing pauses until it is delivered or the retry budget is spent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import yaml

from bot.delivery import Delivery, DeliveryError
from bot.messages import Reply
from bot.referrals import UNROUTED, Referral, district_of, mask_phone
from bot.render import HTML_CHANNELS, render
from integrations.sms.channel import e164
from integrations.window.rules import CHINA

log = logging.getLogger(__name__)

EVENTS = ("new", "transferred", "released", "escalated")
CHANNEL_KINDS = ("telegram", "sms")  # target kinds the bot can send through its own channels
RETRY_DELAYS = (2.0, 4.0, 8.0, 16.0, 32.0)  # seconds between attempts: 6 attempts, ~1 min


class NotifyError(Exception):
    """A notification was not accepted."""


@dataclass(frozen=True)
class Target:
    kind: str  # telegram | sms | … (what the relay or a sender understands)
    address: str  # a Telegram chat id, an on-duty mobile number

    @classmethod
    def parse(cls, text: str) -> Target:
        kind, sep, address = str(text).partition(":")
        if not sep or not kind.strip() or not address.strip():
            raise ValueError(f"a notification target is 'kind:address', got {text!r}")
        return cls(kind.strip(), address.strip())

    @property
    def label(self) -> str:
        """How the target is recorded on a referral and logged: numbers masked."""
        return f"{self.kind}:{mask_phone(self.address) if self.kind == 'sms' else self.address}"


class Notifier(Protocol):
    async def send(self, target: Target, text: str) -> None:
        """Return once delivered; raise on any failure."""
        ...


class HttpNotifier:
    """Posts each notification as JSON to a relay URL; any non-2xx answer is a failure."""

    def __init__(self, url: str, *, timeout: float = 10.0, token: str | None = None) -> None:
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._session: aiohttp.ClientSession | None = None

    async def send(self, target: Target, text: str) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout, headers=self.headers)
        body = {"target": {"kind": target.kind, "address": target.address}, "text": text}
        try:
            async with self._session.post(self.url, json=body) as response:
                if response.status >= 300:
                    raise NotifyError(f"relay answered {response.status}")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise NotifyError(f"relay unreachable: {type(error).__name__}") from error

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class ChannelNotifier:
    """Sends a target of kind telegram or sms through the bot's channel of that name, and
    any other (or one whose channel is not wired) to the relay; without one, fails."""

    def __init__(self, delivery: Delivery, relay: Notifier | None = None) -> None:
        self.delivery = delivery
        self.relay = relay

    def _own(self, kind: str) -> bool:
        return kind in CHANNEL_KINDS and kind in self.delivery.channels

    async def send(self, target: Target, text: str) -> None:
        if self._own(target.kind):
            address = target.address
            if target.kind == "sms":
                address = e164(address)  # as the gateways and the opt-out list have numbers
            if target.kind in HTML_CHANNELS:  # the text is plain; the channel speaks HTML
                text = html.escape(text, quote=False)
            try:
                await self.delivery.send(target.kind, address, [Reply(text)])
            except DeliveryError as error:
                raise NotifyError(f"{target.kind}: {error.reason}") from error
        elif self.relay is not None:
            await self.relay.send(target, text)
        else:
            raise NotifyError(f"no sender for {target.kind} targets")

    async def close(self) -> None:
        close = getattr(self.relay, "close", None)
        if close is not None:
            await close()


@dataclass(frozen=True)
class Targets:
    by_queue: Mapping[str, tuple[Target, ...]] = field(default_factory=dict)
    relay: str | None = None

    def for_queue(self, queue: str) -> tuple[Target, ...]:
        """The queue's own targets, else its district's, else `unrouted`'s."""
        district = district_of(queue)
        for name in (queue, district, UNROUTED):
            if name and self.by_queue.get(name):
                return self.by_queue[name]
        return ()

    def all(self) -> set[Target]:
        return {target for targets in self.by_queue.values() for target in targets}


def parse_targets(data: Any) -> Targets:
    if data is None:
        return Targets()
    if not isinstance(data, dict):
        raise ValueError("notify.yaml: a mapping with 'relay' and 'targets'")
    queues = data.get("targets") or {}
    if not isinstance(queues, dict):
        raise ValueError("notify.yaml: 'targets' maps a queue name to a list of kind:address")
    by_queue = {}
    for queue, entries in queues.items():
        if isinstance(entries, str):
            entries = [entries]
        by_queue[str(queue)] = tuple(Target.parse(e) for e in entries or ())
    relay = data.get("relay")
    return Targets(by_queue, str(relay) if relay else None)


def load_targets(path: Path) -> Targets:
    """The YAML file, or no targets when it does not exist."""
    if not path.exists():
        return Targets()
    return parse_targets(yaml.safe_load(path.read_text(encoding="utf-8")))


def notification_text(event: str, referral: Referral, now: float) -> str:
    """The staff message: reference, level, place and deadline; nothing personal."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    return render(
        "sms",
        f"notify_{event}",
        reference=referral.reference,
        level=referral.level,
        queue=referral.queue,
        district=referral.district,
        township=referral.township,
        deadline=dt.datetime.fromtimestamp(referral.deadline, CHINA),
        seconds_left=referral.deadline - now,
    ).strip()


@dataclass(frozen=True)
class Outcome:
    status: str  # delivered | failed
    attempts: int
    error: str | None = None  # the exception's type name: nothing personal


async def deliver(
    notifier: Notifier,
    target: Target,
    text: str,
    delays: Sequence[float] = RETRY_DELAYS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Outcome:
    """Send, retrying after each failure with the next pause; 1 + len(delays) attempts."""
    error = ""
    for attempt in range(1, len(delays) + 2):
        try:
            await notifier.send(target, text)
        except Exception as exc:  # any failure of a sender is retried, then reported
            error = type(exc).__name__
            log.warning("notification to %s failed (attempt %d): %s", target.label, attempt, error)
            if attempt <= len(delays):
                await sleep(delays[attempt - 1])
            continue
        return Outcome("delivered", attempt)
    return Outcome("failed", len(delays) + 1, error)
