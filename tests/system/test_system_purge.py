"""Referral personal data is purged `RESIDENTBOT_PURGE_DAYS` after resolution, by the
queue's own housekeeping, with the audit kept (issue 7, "Personal data"): the setting as
the server reads it (`Config.from_env`), the queue as the composition root opens it
(`open_queue`), and its background worker — not a direct call — doing the purge, on
both backends. What a purge keeps is proven in tests/integrations/test_window_contract.py.

Each start of the worker purges at its first tick, then hourly; a restarted process
(here: a new queue on the same data, its clock days later) purges what has come due.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.config import Config
from bot.referrals import Draft, Referral
from integrations.window import Window, open_queue
from tests.bot.talk import Clock

DAYS = 3
CONTACT = "13800138000"
WORDS = "家里断粮三天了，老伴瘫在床上"
OUTCOME = "已为张大爷办理临时救助"


def opened(config: Config, clock: Clock) -> Window:
    window = open_queue(config, clock=clock)
    window.tick = 0.05  # the worker's pace (30 s in production); what it does is unchanged
    return window


async def until(check: Callable[[], Awaitable[object]], seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.05)


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Config:
    env = {"RESIDENTBOT_DATA_DIR": str(tmp_path), "RESIDENTBOT_PURGE_DAYS": str(DAYS)}
    if request.param == "redis":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    return Config.from_env(env)


async def test_the_worker_purges_resolved_referrals_after_the_configured_days(
    config: Config,
) -> None:
    clock = Clock()
    first = opened(config, clock)
    assert first.purge_after == DAYS * 86400
    draft = Draft(key="sms:+8613800138000:SM1", level="urgent", channel="sms",
                  address="+8613800138000", district="渝中区", township="解放碑街道",
                  contact=CONTACT, message=WORDS, consent=True)  # fmt: skip
    made = await first.create(draft)
    await first.claim(made.reference, "zhang")
    await first.resolve(made.reference, "zhang", OUTCOME)
    open_one = await first.create(Draft(**{**draft.__dict__, "key": "sms:+8613800138000:SM2"}))
    clock.advance(DAYS * 86400 - 3600)  # not yet
    await first.start()
    try:
        await asyncio.sleep(0.5)  # ten ticks: its first purge pass has run
        kept = await first.get(made.reference)
        assert kept is not None
        assert (kept.contact, kept.outcome, kept.purged_at) == (CONTACT, OUTCOME, None)
    finally:
        await first.close()

    clock.advance(2 * 3600)  # past the days, and a new process on the same data
    second = opened(config, clock)
    await second.start()
    try:

        async def purged() -> Referral | None:
            found = await second.get(made.reference)
            return found if found is not None and found.purged_at is not None else None

        await until(purged)
        gone = await purged()
        assert gone is not None
        assert (gone.contact, gone.address, gone.outcome) == (None, "", "")
        assert all(m["text"] == "" for m in gone.thread)
        assert [a["action"] for a in gone.audit][-1] == "purged"
        assert {"created", "claimed", "resolved"} <= {a["action"] for a in gone.audit}
        assert (gone.level, gone.queue, gone.status) == ("urgent", "渝中区/解放碑街道", "resolved")
        still = await second.get(open_one.reference)
        assert still is not None
        assert (still.contact, still.thread[0]["text"]) == (CONTACT, WORDS)
    finally:
        await second.close()
