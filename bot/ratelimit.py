"""Per-sender rate limit: at most `limit` messages per sender per minute (issue 7).

The count is the store's fixed-window counter (`Store.incr`, namespace `rate`, keyed by
`<channel>:<sender>`), so it holds across every server process sharing one Redis. A
message over the limit is not handled: it changes nothing, and the sender is told
politely to wait a minute and send it again (bot/templates/common/rate_limited.j2), so
it is never dropped silently. An emergency is never held back (RULES.md "Urgency":
every message is triaged first): it goes on to the router whatever the count.

Only the first message over the limit in a window is logged, with the channel alone.
"""

from __future__ import annotations

import logging

from bot.messages import Handled, Inbound
from bot.render import render_reply
from bot.store import Store
from knowledge.triage import triage

log = logging.getLogger(__name__)

NAMESPACE = "rate"
WINDOW = 60.0  # seconds: the limit is per minute
TEMPLATE = "rate_limited"


class RateLimit:
    def __init__(self, store: Store, limit: int, window: float = WINDOW) -> None:
        if limit < 1:
            raise ValueError("the rate limit is at least 1 message per window")
        self.store = store
        self.limit = limit
        self.window = window

    async def check(self, inbound: Inbound) -> Handled | None:
        """None when the message may be handled; else the polite reply, and nothing done.
        `StoreUnavailable` passes up (the route answers 503)."""
        count = await self.store.incr(NAMESPACE, inbound.key, self.window)
        if count <= self.limit or triage(inbound.body).level == "emergency":
            return None
        if count == self.limit + 1:
            log.warning("a %s sender went over %d messages a minute", inbound.channel, self.limit)
        return Handled([render_reply(inbound.channel, TEMPLATE, {})])
