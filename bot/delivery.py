"""Out-of-band delivery: messages to a resident that are not an answer to their message.

A staff reply from the console, a notification: it goes back through the channel the
resident wrote from (ARCHITECTURE.md, "Staff replies from the console travel the same
way back"), to the address that channel gave us (`Referral.channel`, `Referral.address`).

One small contract per channel (the opsdroid habit): a `Sender` takes the address and
the replies, already rendered for that channel. `Delivery` maps channels to senders and
is wired in `bot/app.py`:

- `sms` → the outbound gateway, respecting opt-outs and splitting into numbered parts
  (integrations/sms/channel.py);
- `telegram` → the bot's `sendMessage` (integrations/telegram/channel.py);
- `web` → the browser's outbox in the store, which the chat page polls (bot/web.py).

A message that cannot be delivered raises `DeliveryError` with a reason the console can
show; nothing here logs addresses or text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from bot.messages import Reply
from bot.render import render_reply

REASONS = {
    "no_channel": "this channel cannot deliver messages later",
    "opted_out": "the resident opted out of SMS (退订)",
    "blocked": "the resident blocked the bot",
    "failed": "the gateway did not accept the message after retries",
}


class DeliveryError(Exception):
    """Not delivered. `reason` is one of REASONS."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason}: {REASONS.get(reason, reason)}")
        self.reason = reason


class Sender(Protocol):
    async def send(self, address: str, replies: Sequence[Reply]) -> None:
        """Deliver the replies, in order, to one resident; raise DeliveryError if not."""
        ...


class Delivery:
    def __init__(self, senders: Mapping[str, Sender] | None = None) -> None:
        self.senders: dict[str, Sender] = dict(senders or {})

    def register(self, channel: str, sender: Sender) -> None:
        self.senders[channel] = sender

    @property
    def channels(self) -> frozenset[str]:
        return frozenset(self.senders)

    async def send(self, channel: str, address: str, replies: Sequence[Reply]) -> None:
        """Replies rendered for `channel` (bot.render.render_reply) to `address`."""
        sender = self.senders.get(channel)
        if sender is None:
            raise DeliveryError("no_channel")
        await sender.send(address, list(replies))

    async def notify(
        self, channel: str, address: str, template: str, values: Mapping[str, Any]
    ) -> None:
        """Render one template for the resident's channel and deliver it."""
        await self.send(channel, address, [render_reply(channel, template, values)])
