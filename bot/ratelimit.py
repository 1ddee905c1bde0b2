"""Per-sender rate limit: at most `limit` messages per sender per minute (issue 7).

The count is a fixed-window record in the sender's store unit (`Store.locked`, namespace
`limit`, keyed by `<channel>:<sender>`): read with the sender's lock and written with
the message's other records, so it costs no round trip of its own and holds across
every server process sharing one Redis (the lock serialises one sender's messages). A
message over the limit is not handled: it changes nothing, and the sender is told
politely to wait a minute and send it again (bot/templates/common/rate_limited.j2), so
it is never dropped silently. An emergency is never held back (RULES.md "Urgency":
every message is triaged first): it goes on to the router whatever the count.

Only the first message over the limit in a window is logged, with the channel alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.messages import Handled, Inbound
from bot.render import render_reply
from bot.store import Item, Unit
from knowledge.triage import triage

log = logging.getLogger(__name__)

NAMESPACE = "limit"
WINDOW = 60.0  # seconds: the limit is per minute
TEMPLATE = "rate_limited"


class RateLimit:
    def __init__(
        self, limit: int, window: float = WINDOW, clock: Callable[[], float] = time.time
    ) -> None:
        if limit < 1:
            raise ValueError("the rate limit is at least 1 message per window")
        self.limit = limit
        self.window = window
        self.clock = clock

    @staticmethod
    def item(inbound: Inbound) -> Item:
        """The sender's count, for the unit's first reads."""
        return (NAMESPACE, inbound.key)

    async def check(self, unit: Unit, inbound: Inbound) -> Handled | None:
        """None when the message may be handled; else the polite reply, and nothing done
        (but the count). `StoreUnavailable` passes up (the route answers 503)."""
        now = self.clock()
        kept = await unit.get(*self.item(inbound))
        if kept is None or not now < float(kept["until"]):
            kept = {"count": 0, "until": now + self.window}
        count = int(kept["count"]) + 1
        unit.put(*self.item(inbound), {**kept, "count": count}, ttl=float(kept["until"]) - now)
        if count <= self.limit or triage(inbound.body).level == "emergency":
            return None
        if count == self.limit + 1:
            log.warning("a %s sender went over %d messages a minute", inbound.channel, self.limit)
        return Handled([render_reply(inbound.channel, TEMPLATE, {})], limited=True)
