"""The per-sender rate limit through the real router (bot/ratelimit.py), on both stores:
over the limit a message gets the polite reply and changes nothing, and is handled when
sent again after the minute; an emergency always goes through; the count is per sender
and, on Redis, shared by every process. Across two real server processes:
tests/system/test_system_two_servers.py."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.messages import Inbound
from bot.ratelimit import RateLimit
from bot.render import render_reply
from bot.router import REFERRAL, SCREENING, Router
from bot.sessions import Sessions
from bot.store import Store
from bot.store.embedded import EmbeddedStore
from bot.store.redis import RedisStore
from dialogues import referral, screening
from integrations.sms.segments import SINGLE, sms_length
from integrations.window import Window, open_queue
from tests.bot.talk import Clock

SENDER = "+8613800000000"
LIMIT = 3
POLITE = render_reply("sms", "rate_limited", {}).text


@dataclass
class Limited:
    kind: str
    store: Store
    queue: Window
    clock: Clock
    window: float
    routers: list[Router]

    def router(self) -> Router:
        """Another router on the same store: a second process, as far as Redis goes."""
        sessions = Sessions(self.store, clock=self.clock)
        flows = {SCREENING: screening.FLOW, REFERRAL: referral.FLOW}
        clock = self.clock if self.kind == "embedded" else time.time  # real time on Redis
        limit = RateLimit(LIMIT, window=self.window, clock=clock)
        made = Router(self.store, self.queue, flows, sessions=sessions, clock=self.clock,
                      rate_limit=limit)  # fmt: skip
        self.routers.append(made)
        return made

    async def wait_out_the_window(self) -> None:
        if self.kind == "embedded":
            self.clock.advance(self.window + 1)
        else:
            import asyncio

            await asyncio.sleep(self.window + 0.1)

    async def session(self, sender: str = SENDER) -> dict[str, Any]:
        return await self.store.get("session", f"sms:{sender}") or {}


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
async def limited(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Limited]:
    clock = Clock()
    store: Store
    if request.param == "embedded":
        store, window = EmbeddedStore(tmp_path / "store", clock=clock), 60.0
        config = Config(data_dir=tmp_path)
    else:
        url: str = request.getfixturevalue("redis_url")
        store, window = RedisStore(url), 1.5  # real time on Redis: a short window
        config = Config(data_dir=tmp_path, redis_url=url)
    queue = open_queue(config, store, clock=clock)
    yield Limited(request.param, store, queue, clock, window, [])
    await queue.close()
    await store.close()


async def say(router: Router, text: str, delivery: str | None = None, sender: str = SENDER) -> str:
    handled = await router.handle(Inbound("sms", sender, text, delivery))
    assert handled.replies
    return "\n".join(r.text for r in handled.replies)


def test_the_polite_reply_fits_one_sms_and_says_to_wait_a_minute() -> None:
    assert sms_length(POLITE) <= SINGLE
    assert "一分钟" in POLITE
    assert "再发" in POLITE
    for channel in ("telegram", "web", "terminal"):
        assert render_reply(channel, "rate_limited", {}).text == POLITE


async def test_over_the_limit_a_message_changes_nothing_and_is_handled_later(
    limited: Limited,
) -> None:
    router = limited.router()
    assert "1" in await say(router, "测一测", "d1")  # the first screening question
    asked = (await limited.session())["state"]
    await say(router, "帮助", "d2")
    await say(router, "帮助", "d3")
    before = await limited.session()
    assert await say(router, "奉节", "d4") == POLITE  # the 4th within the minute
    after = await limited.session()
    assert (after["state"], after["answers"]) == (before["state"], before["answers"])
    assert after["state"] == asked
    await limited.wait_out_the_window()
    # The gateway (or the resident) sends it again: it is handled this time, once.
    reply = await say(router, "奉节", "d4")
    assert reply != POLITE
    moved = await limited.session()
    assert moved["state"] != asked
    assert await say(router, "奉节", "d4") == reply  # a redelivery now: the same answer


async def test_an_emergency_is_never_held_back(limited: Limited) -> None:
    router = limited.router()
    for n in range(LIMIT + 2):
        await say(router, "帮助", f"h{n}")
    assert await say(router, "帮助", "h9") == POLITE
    reply = await say(router, "我不想活了", "e1")
    assert "110" in reply or "120" in reply
    assert reply != POLITE
    made = (await limited.session()).get("referral")
    assert made
    found = await limited.queue.get(str(made["reference"]))
    assert found is not None
    assert found.level == "emergency"


async def test_the_count_is_per_sender_and_shared_by_every_router(limited: Limited) -> None:
    first, second = limited.router(), limited.router()
    for n in range(LIMIT):
        await say((first, second)[n % 2], "帮助", f"s{n}")
    assert await say(first, "帮助", "s8") == POLITE
    assert await say(second, "帮助", "s9") == POLITE
    other = "+8613900000000"
    assert await say(second, "帮助", "o1", sender=other) != POLITE


async def test_a_redelivery_of_a_handled_message_is_not_counted(limited: Limited) -> None:
    router = limited.router()
    first = await say(router, "帮助", "r1")
    for _ in range(LIMIT + 3):  # a gateway retrying the same delivery
        assert await say(router, "帮助", "r1") == first
    assert await say(router, "帮助", "r2") != POLITE


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RateLimit(0)
