"""The inbound side every channel shares: hand a delivery to the router, and count it.

Each channel route (SMS, Telegram, web chat) authenticates and parses its delivery,
then calls `Inbox.handle`, inside `Inbox.observe(channel)` which times the whole request
and counts it once by outcome (bot/metrics.py): `replied`, `duplicate`, `rejected`
(forged or malformed, answered 400/403), `unavailable` (the store is down: answered 503
so the gateway delivers again) or `error` (a bug). Labels carry no personal data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from bot.messages import Handled, Inbound
from bot.metrics import Metrics
from bot.store import Item, StoreUnavailable, Unit

if TYPE_CHECKING:
    from bot.router import Router

OUTCOMES = ("replied", "duplicate", "rejected", "unavailable", "error")


@dataclass
class Observation:
    """What a route sets while handling one request; `replied` unless it says otherwise."""

    outcome: str = "replied"


class Inbox:
    def __init__(self, router: Router, metrics: Metrics) -> None:
        self.router = router
        self.metrics = metrics

    async def handle(self, inbound: Inbound) -> Handled:
        """The router's answer; `StoreUnavailable` passes up (the route answers 503)."""
        return self._counted(inbound, await self.router.handle(inbound))

    def locked(
        self, inbound: Inbound, reads: Sequence[Item] = ()
    ) -> AbstractAsyncContextManager[Unit]:
        """The sender's unit for a channel with records of its own (`reads`) to keep
        under the same lock as the router's; the router's first reads come with it."""
        return self.router.store.locked(inbound.key, [*reads, *self.router.reads(inbound)])

    async def handle_in(self, unit: Unit, inbound: Inbound) -> Handled:
        """`handle` inside a unit from `locked`."""
        return self._counted(inbound, await self.router.handle_in(unit, inbound))

    def _counted(self, inbound: Inbound, handled: Handled) -> Handled:
        if handled.limited:
            self.metrics.rate_limited.labels(inbound.channel).inc()
        return handled

    def count(self, channel: str, outcome: str) -> None:
        """Count a delivery turned away before any work (a forged webhook call)."""
        self.metrics.messages.labels(channel, outcome).inc()

    @contextmanager
    def observe(self, channel: str) -> Iterator[Observation]:
        """Time one request and count its outcome, whatever happens inside."""
        seen = Observation()
        started = time.perf_counter()
        try:
            yield seen
        except StoreUnavailable:
            seen.outcome = "unavailable"
            raise
        except web.HTTPException:  # e.g. 413, a body over the size cap
            seen.outcome = "rejected"
            raise
        except Exception:
            seen.outcome = "error"
            raise
        finally:
            self.metrics.latency.labels(channel).observe(time.perf_counter() - started)
            self.metrics.messages.labels(channel, seen.outcome).inc()
