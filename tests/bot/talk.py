"""A resident talking to the real router, on a real store and the real referral queue.

`Bench.open("embedded", tmp_path)` or `Bench.open("redis", tmp_path, redis_url)` builds
what `bot.app.Services.open` builds (the store, the window queue, the sessions and the
router with both flows) on a controllable clock; `restart()` closes everything and builds
it again on the same data, as a restarted process would.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.messages import Inbound, Reply
from bot.referrals import Referral
from bot.router import REFERRAL, SCREENING, Router
from bot.sessions import Sessions
from bot.store import Store, open_store
from dialogues import referral, screening
from integrations.window import Window, open_queue

CHINA = dt.timezone(dt.timedelta(hours=8))
SENDER = "+8613800000000"
START = dt.datetime(2025, 8, 1, 10, 0, tzinfo=CHINA)


class Clock:
    """Unix time that moves only when told to."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Bench:
    kind: str  # "embedded" | "redis"
    config: Config
    clock: Clock
    store: Store
    queue: Window
    router: Router

    @classmethod
    async def open(
        cls, kind: str, directory: Path, redis_url: str | None = None, clock: Clock | None = None
    ) -> Bench:
        config = Config(data_dir=directory, redis_url=redis_url if kind == "redis" else None)
        clock = clock or Clock()
        store = open_store(config.redis_url or config.data_dir)
        queue = open_queue(config, store, clock=clock)
        sessions = Sessions(store, idle_timeout=config.idle_timeout, clock=clock)
        flows = {SCREENING: screening.FLOW, REFERRAL: referral.FLOW}
        router = Router(store, queue, flows, sessions=sessions, clock=clock)
        return cls(kind, config, clock, store, queue, router)

    async def close(self) -> None:
        await self.queue.close()
        await self.store.close()

    async def restart(self) -> None:
        """A new process on the same data: every object is built again."""
        await self.close()
        fresh = await Bench.open(self.kind, self.config.data_dir, self.config.redis_url, self.clock)
        self.store, self.queue, self.router = fresh.store, fresh.queue, fresh.router

    async def say(
        self, text: str, channel: str = "sms", sender: str = SENDER, delivery: str | None = None
    ) -> list[Reply]:
        handled = await self.router.handle(Inbound(channel, sender, text, delivery))
        return handled.replies

    async def session(self, channel: str = "sms", sender: str = SENDER) -> dict[str, Any]:
        return await self.store.get("session", f"{channel}:{sender}") or {}

    async def last_referral(self, channel: str = "sms", sender: str = SENDER) -> Referral | None:
        """The sender's last referral, read back from the queue."""
        last = (await self.session(channel, sender)).get("referral")
        if not last:
            return None
        return await self.queue.get(str(last["reference"]))


def joined(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)
