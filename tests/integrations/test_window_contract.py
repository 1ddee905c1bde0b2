"""The referral queue contract (bot/referrals.py), proven on both backends.

Deadlines run on an injected clock on both. The claim timeout is the queue's clock on the
embedded backend and the Redis server's own idle time on Redis (XAUTOCLAIM), so there
`pass_claim_timeout` really waits a short timeout out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.metrics import Metrics
from bot.referrals import (
    UNROUTED,
    Conflict,
    Draft,
    InvalidTransition,
    NotFound,
    Referral,
    supervisor_queues,
)
from integrations.window.base import Window
from integrations.window.embedded import EmbeddedWindow
from integrations.window.redis import RedisWindow

CHINA = dt.timezone(dt.timedelta(hours=8))
CLAIM_TIMEOUT = 0.3
TOWNSHIP = "渝中区/解放碑街道"
OTHER = "渝中区/七星岗街道"
PHONE = "13800138000"
WORDS = "家里断粮三天了，老伴瘫在床上"


def at(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> float:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=CHINA).timestamp()


class FakeClock:
    def __init__(self) -> None:
        self.now = at(2025, 8, 4, 9, 0)  # a Monday morning in Chongqing

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    kind: str
    clock: FakeClock
    build: Callable[..., Window]
    pass_claim_timeout: Callable[[], Awaitable[None]]
    opened: list[Window] = field(default_factory=list)

    def open(self, **options: Any) -> Window:
        """Another instance on the same data (the same file, the same Redis database)."""
        window = self.build(clock=self.clock, claim_timeout=CLAIM_TIMEOUT, **options)
        self.opened.append(window)
        return window


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    clock = FakeClock()
    if request.param == "embedded":

        async def move() -> None:
            clock.now += CLAIM_TIMEOUT + 1

        chosen = Backend(
            "embedded", clock, lambda **kw: EmbeddedWindow(tmp_path / "data", **kw), move
        )
    else:
        url: str = request.getfixturevalue("redis_url")

        async def wait() -> None:
            await asyncio.sleep(CLAIM_TIMEOUT + 0.2)

        chosen = Backend("redis", clock, lambda **kw: RedisWindow(url, **kw), wait)
    yield chosen
    for window in chosen.opened:
        await window.close()


@pytest.fixture
def window(backend: Backend) -> Window:
    return backend.open()


def draft(key: str = "sms:+8613800138000:SM1", level: str = "urgent", **fields: Any) -> Draft:
    values: dict[str, Any] = {
        "channel": "sms",
        "address": "+8613800138000",
        "district": "渝中区",
        "township": "解放碑街道",
        "contact": PHONE,
        "signals": ["no_food"],
        "message": WORDS,
        "screening": {
            "as_of": "2025-08-01",
            "district": "渝中区",
            "per_capita_income": 350.0,
            "programs": {
                "dibao": {
                    "verdict": "likely",
                    "amount_estimate": 280.0,
                    "reasons": [{"text": "家庭月人均收入350元"}],
                }
            },
            "urgency": "urgent",
        },
        "consent": True,
    }
    values.update(fields)
    return Draft(key=key, level=level, **values)


def actions(referral: Referral) -> list[str]:
    return [entry["action"] for entry in referral.audit]


# --- creating ---------------------------------------------------------------------------


async def test_a_referral_carries_everything_the_window_needs(
    window: Window, backend: Backend
) -> None:
    created = await window.create(draft())
    assert created.reference.isdigit()
    assert len(created.reference) == 8
    assert created.created_at == backend.clock.now
    assert created.deadline == backend.clock.now + 4 * 3600
    assert (created.queue, created.status, created.level) == (TOWNSHIP, "new", "urgent")
    assert created.thread == [{"at": backend.clock.now, "author": "resident", "text": WORDS}]
    assert created.audit == [
        {"at": backend.clock.now, "who": "system", "action": "created",
         "detail": {"queue": TOWNSHIP}}
    ]  # fmt: skip
    assert "sms:+86" not in created.key
    assert len(created.key) == 32
    stored = await window.get(created.reference)
    assert stored == created
    assert stored is not None
    assert stored.contact == PHONE


@pytest.mark.parametrize(
    ("district", "township", "queue"),
    [
        ("渝中区", "解放碑街道", TOWNSHIP),
        ("渝中区", None, "渝中区"),
        (None, "解放碑街道", UNROUTED),
    ],
)
async def test_routing_to_township_district_or_unrouted(
    window: Window, district: str | None, township: str | None, queue: str
) -> None:
    created = await window.create(draft(district=district, township=township))
    assert created.queue == queue
    listed = await window.list([queue])
    assert [s.reference for s in listed] == [created.reference]


async def ready(windows: list[Window]) -> None:
    """Connected and warm, so that the calls that follow really overlap."""
    await asyncio.gather(*(w.get("00000000") for w in windows))


async def test_create_is_idempotent_under_20_concurrent_calls(backend: Backend) -> None:
    metrics = Metrics()
    windows = [backend.open(metrics=metrics) for _ in range(20)]  # e.g. 20 server processes
    await ready(windows)
    made = await asyncio.gather(*(w.create(draft()) for w in windows))
    assert len({r.reference for r in made}) == 1
    assert len(await windows[0].list([TOWNSHIP])) == 1
    assert metrics.referrals.labels("urgent")._value.get() == 1
    again = await windows[1].create(draft())
    assert again.reference == made[0].reference
    other = await windows[1].create(draft(key="sms:+8613800138000:SM2"))
    assert other.reference != made[0].reference


async def test_unknown_references_and_bad_arguments(window: Window) -> None:
    for call in (
        window.claim("99999999", "zhang"),
        window.mark_contacted("99999999", "zhang"),
        window.reply("99999999", "zhang", "您好"),
        window.resolve("99999999", "zhang", "已办"),
        window.release("99999999", "zhang"),
        window.transfer("99999999", "zhang", OTHER),
        window.add_message("99999999", "resident", "在吗"),
    ):
        with pytest.raises(NotFound):
            await call
    assert await window.get("99999999") is None
    with pytest.raises(ValueError, match="level"):
        await window.create(draft(level="high"))
    created = await window.create(draft())
    with pytest.raises(ValueError, match="staff"):
        await window.claim(created.reference, " ")
    with pytest.raises(ValueError, match="statuses"):
        await window.list([TOWNSHIP], statuses=["open"])


# --- claiming and the life cycle ----------------------------------------------------------


async def test_of_20_concurrent_claims_exactly_one_wins(backend: Backend) -> None:
    windows = [backend.open() for _ in range(20)]  # 20 staff, each on their own connection
    created = await windows[0].create(draft())
    await ready(windows)
    results = await asyncio.gather(
        *(w.claim(created.reference, f"staff{i}") for i, w in enumerate(windows)),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, Referral)]
    losers = [r for r in results if not isinstance(r, Referral)]
    assert len(winners) == 1
    assert len(losers) == 19
    assert all(isinstance(e, Conflict) and e.holder == winners[0].assignee for e in losers)
    stored = await windows[1].get(created.reference)
    assert stored is not None
    assert stored.assignee == winners[0].assignee
    assert actions(stored) == ["created", "claimed"]


async def test_the_whole_way_with_an_audit_entry_per_change(
    window: Window, backend: Backend
) -> None:
    ref = (await window.create(draft())).reference
    claimed = await window.claim(ref, "zhang")
    assert (claimed.status, claimed.assignee, claimed.claimed_at) == (
        "claimed", "zhang", backend.clock.now)  # fmt: skip
    assert await window.claim(ref, "zhang") == claimed  # a second click changes nothing
    backend.clock.now += 60
    await window.add_message(ref, "resident", "什么时候来人")
    sent = await window.reply(ref, "zhang", "下午两点到您家")
    assert (sent.reference, sent.channel, sent.address, sent.text, sent.index) == (
        ref, "sms", "+8613800138000", "下午两点到您家", 2)  # fmt: skip
    sending = await window.get(ref)
    assert sending is not None
    assert sending.status == "claimed"  # not contacted before the resident has it
    contacted = await window.reply_sent(ref, "zhang", sent.index)
    assert contacted.status == "contacted"
    assert [(m["author"], m["text"], m.get("delivery")) for m in contacted.thread] == [
        ("resident", WORDS, None), ("resident", "什么时候来人", None),
        ("zhang", "下午两点到您家", "delivered")]  # fmt: skip
    assert await window.reply_sent(ref, "zhang", sent.index) == contacted  # recorded once
    assert await window.mark_contacted(ref, "zhang") == contacted
    resolved = await window.resolve(ref, "zhang", "已上门，临时救助800元")
    assert (resolved.status, resolved.outcome) == ("resolved", "已上门，临时救助800元")
    assert resolved.resolved_at == backend.clock.now
    assert actions(resolved) == [
        "created", "claimed", "message", "replied", "reply_delivered", "resolved"]  # fmt: skip
    assert [e["who"] for e in resolved.audit] == [
        "system", "zhang", "resident", "zhang", "zhang", "zhang"]  # fmt: skip
    assert resolved.version == len(resolved.audit)
    assert await window.list([TOWNSHIP]) == []
    assert [s.reference for s in await window.list([TOWNSHIP], statuses=["resolved"])] == [ref]


async def test_an_undelivered_reply_leaves_the_referral_uncontacted(window: Window) -> None:
    ref = (await window.create(draft())).reference
    await window.claim(ref, "zhang")
    sent = await window.reply(ref, "zhang", "请回电话")
    failed = await window.reply_sent(ref, "zhang", sent.index, "no_channel")
    assert (failed.status, failed.assignee) == ("claimed", "zhang")
    message = failed.thread[-1]
    assert (message["author"], message["text"]) == ("zhang", "请回电话")
    assert (message["delivery"], message["error"]) == ("failed", "no_channel")
    assert actions(failed)[-2:] == ["replied", "reply_undelivered"]
    assert failed.audit[-1]["detail"] == {"reason": "no_channel"}
    (summary,) = await window.list([TOWNSHIP])
    assert summary.reply_failed
    assert await window.reply_sent(ref, "zhang", sent.index) == failed  # recorded already
    again = await window.reply(ref, "zhang", "在吗")
    with pytest.raises(Conflict):  # only its author records how a reply went
        await window.reply_sent(ref, "li", again.index)
    delivered = await window.reply_sent(ref, "zhang", again.index)
    assert delivered.status == "contacted"
    (summary,) = await window.list([TOWNSHIP])
    assert not summary.reply_failed


async def test_mark_contacted_acknowledges_the_claim(window: Window) -> None:
    ref = (await window.create(draft())).reference
    await window.claim(ref, "zhang")
    contacted = await window.mark_contacted(ref, "zhang")
    assert contacted.status == "contacted"
    assert actions(contacted)[-1] == "contacted"


ILLEGAL: list[tuple[str, str, type[Exception]]] = [
    # (status before, the action, what it raises)
    ("new", "resolve", InvalidTransition),
    ("new", "mark_contacted", InvalidTransition),
    ("new", "reply", InvalidTransition),
    ("new", "release", InvalidTransition),
    ("claimed", "claim_other", Conflict),
    ("claimed", "resolve_other", Conflict),
    ("claimed", "reply_other", Conflict),
    ("claimed", "release_other", Conflict),
    ("claimed", "transfer_other", Conflict),
    ("claimed", "resolve_empty", ValueError),
    ("claimed", "transfer_same", ValueError),
    ("claimed", "transfer_bad", ValueError),
    ("resolved", "claim", InvalidTransition),
    ("resolved", "reply", InvalidTransition),
    ("resolved", "transfer", InvalidTransition),
    ("resolved", "release", InvalidTransition),
    ("new", "take_over", InvalidTransition),
    ("claimed", "take_over_stale", Conflict),  # no longer held by whom the caller saw
    ("claimed", "take_over_bad", ValueError),
    ("resolved", "take_over", InvalidTransition),
]


@pytest.mark.parametrize(("before", "action", "error"), ILLEGAL)
async def test_illegal_transitions_are_refused_and_change_nothing(
    window: Window, before: str, action: str, error: type[Exception]
) -> None:
    ref = (await window.create(draft())).reference
    if before in ("claimed", "resolved"):
        await window.claim(ref, "zhang")
    if before == "resolved":
        await window.resolve(ref, "zhang", "已办结")
    snapshot = await window.get(ref)
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "resolve": lambda: window.resolve(ref, "zhang", "已办结"),
        "mark_contacted": lambda: window.mark_contacted(ref, "zhang"),
        "reply": lambda: window.reply(ref, "zhang", "您好"),
        "release": lambda: window.release(ref, "zhang"),
        "claim": lambda: window.claim(ref, "zhang"),
        "transfer": lambda: window.transfer(ref, "zhang", OTHER),
        "claim_other": lambda: window.claim(ref, "li"),
        "resolve_other": lambda: window.resolve(ref, "li", "已办结"),
        "reply_other": lambda: window.reply(ref, "li", "您好"),
        "release_other": lambda: window.release(ref, "li"),
        "transfer_other": lambda: window.transfer(ref, "li", OTHER),
        "resolve_empty": lambda: window.resolve(ref, "zhang", "  "),
        "transfer_same": lambda: window.transfer(ref, "zhang", TOWNSHIP),
        "transfer_bad": lambda: window.transfer(ref, "zhang", "渝中区/*"),
        "take_over": lambda: window.take_over(ref, "chief", "zhang"),
        "take_over_stale": lambda: window.take_over(ref, "chief", "li"),
        "take_over_bad": lambda: window.take_over(ref, "chief", "zhang", " "),
    }
    with pytest.raises(error):
        await calls[action]()
    assert await window.get(ref) == snapshot


async def test_release_puts_it_back_for_someone_else(window: Window) -> None:
    ref = (await window.create(draft())).reference
    await window.claim(ref, "zhang")
    released = await window.release(ref, "zhang")
    assert (released.status, released.assignee, released.claimed_at) == ("new", None, None)
    assert [s.status for s in await window.list([TOWNSHIP])] == ["new"]
    assert (await window.claim(ref, "li")).assignee == "li"
    assert actions(await window.get(ref) or released) == ["created", "claimed", "released",
                                                          "claimed"]  # fmt: skip


async def test_a_held_referral_is_taken_back_to_the_queue_by_someone_else(
    window: Window, backend: Backend
) -> None:
    ref = (await window.create(draft())).reference
    await window.claim(ref, "zhang")
    await window.mark_contacted(ref, "zhang")
    backend.clock.now += 60
    back = await window.take_over(ref, "chief", "zhang")
    assert (back.status, back.assignee, back.claimed_at) == ("new", None, None)
    assert back.audit[-1] == {"at": backend.clock.now, "who": "chief", "action": "taken_over",
                              "detail": {"holder": "zhang", "assignee": None}}  # fmt: skip
    assert [(s.status, s.assignee) for s in await window.list([TOWNSHIP])] == [("new", None)]
    with pytest.raises(InvalidTransition):
        await window.resolve(ref, "zhang", "已办结")  # the former holder no longer can
    assert (await window.claim(ref, "li")).assignee == "li"


async def test_a_held_referral_is_taken_over_for_a_colleague(
    window: Window, backend: Backend
) -> None:
    ref = (await window.create(draft())).reference
    await window.claim(ref, "zhang")
    await window.mark_contacted(ref, "zhang")
    backend.clock.now += 60
    taken = await window.take_over(ref, "chief", "zhang", "li")
    assert (taken.status, taken.assignee, taken.claimed_at) == ("claimed", "li", backend.clock.now)
    assert taken.audit[-1]["detail"] == {"holder": "zhang", "assignee": "li"}
    assert await window.take_over(ref, "chief", "li", "li") == taken  # a second click
    with pytest.raises(Conflict):
        await window.reply(ref, "zhang", "您好")
    # li's claim is a claim like any other: it times out unless li gets in touch
    assert await window.reclaim_abandoned() == []
    await backend.pass_claim_timeout()
    assert await window.reclaim_abandoned() == [ref]
    back = await window.get(ref)
    assert back is not None
    assert (back.status, back.assignee) == ("new", None)
    assert back.audit[-1]["detail"] == {"from": "li"}


async def test_a_claim_taken_over_counts_its_timeout_afresh(
    window: Window, backend: Backend
) -> None:
    ref = (await window.create(draft())).reference
    await window.claim(ref, "zhang")
    await backend.pass_claim_timeout()  # zhang's claim is stale, not yet taken back
    await window.take_over(ref, "chief", "zhang", "chief")
    assert await window.reclaim_abandoned() == []
    resolved = await window.resolve(ref, "chief", "已上门")
    assert (resolved.status, resolved.assignee) == ("resolved", "chief")


async def test_transfer_moves_it_to_another_window_with_a_fresh_deadline(
    window: Window, backend: Backend
) -> None:
    ref = (await window.create(draft())).reference
    await window.claim(ref, "zhang")
    backend.clock.now += 3600
    moved = await window.transfer(ref, "zhang", OTHER)
    assert (moved.status, moved.queue, moved.assignee) == ("transferred", OTHER, None)
    assert (moved.district, moved.township) == ("渝中区", "七星岗街道")
    assert moved.deadline == backend.clock.now + 4 * 3600
    assert moved.audit[-1]["detail"] == {"from": TOWNSHIP, "to": OTHER}
    assert await window.list([TOWNSHIP]) == []
    assert [s.status for s in await window.list([OTHER])] == ["transferred"]
    assert (await window.claim(ref, "wang")).status == "claimed"
    onward = await window.transfer(ref, "wang", UNROUTED)
    assert (onward.district, onward.township, onward.queue) == (None, None, UNROUTED)


async def test_an_unclaimed_referral_may_be_transferred_by_anyone(window: Window) -> None:
    ref = (await window.create(draft())).reference
    assert (await window.transfer(ref, "supervisor", "渝中区")).queue == "渝中区"


# --- listing ---------------------------------------------------------------------------


async def test_listing_puts_emergencies_first_then_the_nearest_deadline(
    window: Window, backend: Backend
) -> None:
    normal = await window.create(draft("k1", "normal"))
    backend.clock.now += 600
    urgent_late = await window.create(draft("k2", "urgent"))
    backend.clock.now += 600
    emergency = await window.create(draft("k3", "emergency"))
    urgent_early = await window.create(draft("k4", "urgent", township="七星岗街道"))
    backend.clock.now -= 1800  # urgent_early: created "earlier" so its deadline is nearer
    urgent_earliest = await window.create(draft("k5", "urgent"))
    backend.clock.now += 1800
    listed = await window.list([TOWNSHIP, OTHER])
    assert [s.reference for s in listed] == [
        emergency.reference, urgent_earliest.reference, urgent_late.reference,
        urgent_early.reference, normal.reference]  # fmt: skip
    assert listed[0].time_left == pytest.approx(1800)
    assert listed[1].time_left == pytest.approx(4 * 3600 - 1800)
    assert [s.reference for s in await window.list([TOWNSHIP, OTHER], limit=2)] == [
        emergency.reference, urgent_earliest.reference]  # fmt: skip


async def test_lists_mask_contacts_and_carry_no_words(window: Window) -> None:
    await window.create(draft())
    (summary,) = await window.list([TOWNSHIP])
    assert summary.contact == "138****8000"
    assert summary.address == "138****8000"
    assert WORDS not in repr(summary)
    assert PHONE not in repr(summary)


async def test_who_sees_what(window: Window) -> None:
    mine = await window.create(draft("k1"))
    theirs = await window.create(draft("k2", township="七星岗街道"))
    district_level = await window.create(draft("k3", township=None))
    elsewhere = await window.create(draft("k4", district="江北区", township="观音桥街道"))
    assert {s.reference for s in await window.list([TOWNSHIP])} == {mine.reference}
    assert {s.reference for s in await window.list(supervisor_queues("渝中区"))} == {
        mine.reference, theirs.reference, district_level.reference}  # fmt: skip
    assert {s.reference for s in await window.list(["江北区/*"])} == {elsewhere.reference}
    assert await window.list(["渝北区", "渝北区/*"]) == []
    assert await window.list([]) == []


async def test_status_filter(window: Window) -> None:
    new = await window.create(draft("k1"))
    held = await window.create(draft("k2"))
    await window.claim(held.reference, "zhang")
    assert [s.reference for s in await window.list([TOWNSHIP], statuses=["new"])] == [
        new.reference]  # fmt: skip
    assert [s.reference for s in await window.list([TOWNSHIP], statuses=["claimed"])] == [
        held.reference]  # fmt: skip


# --- deadlines and escalation --------------------------------------------------------------


async def test_an_unclaimed_urgent_referral_escalates_after_4_hours(backend: Backend) -> None:
    metrics = Metrics()
    window = backend.open(metrics=metrics)
    start = backend.clock.now
    waiting = await window.create(draft("k1"))
    backend.clock.now += 1
    held = await window.create(draft("k2"))
    await window.claim(held.reference, "zhang")
    assert await window.escalate_due(start + 4 * 3600 - 1) == []
    assert await window.list(["渝中区"]) == []
    assert await window.escalate_due(start + 4 * 3600 + 1) == [waiting.reference]
    escalated = await window.get(waiting.reference)
    assert escalated is not None
    assert escalated.escalated
    assert escalated.status == "new"
    assert escalated.audit[-1]["action"] == "escalated"
    assert escalated.audit[-1]["detail"] == {"to": "渝中区"}
    claimed = await window.get(held.reference)
    assert claimed is not None
    assert not claimed.escalated
    district = await window.list(["渝中区"])
    assert [(s.reference, s.escalated) for s in district] == [(waiting.reference, True)]
    assert [s.reference for s in await window.list(supervisor_queues("渝中区"))] == [
        waiting.reference, held.reference]  # fmt: skip
    assert await window.escalate_due(start + 5 * 3600) == []  # once only
    assert metrics.deadline_breaches.labels("urgent")._value.get() == 1
    # claimed by a supervisor, it stays visible in the district queue until resolved
    await window.claim(waiting.reference, "supervisor")
    assert [s.status for s in await window.list(["渝中区"])] == ["claimed"]
    await window.resolve(waiting.reference, "supervisor", "已联系")
    assert await window.list(["渝中区"]) == []


async def test_the_default_clock_escalates_an_emergency_after_30_minutes(
    window: Window, backend: Backend
) -> None:
    created = await window.create(draft(level="emergency"))
    backend.clock.now += 30 * 60 + 1
    assert await window.escalate_due() == [created.reference]


async def test_deadlines_come_from_the_configuration(backend: Backend) -> None:
    window = backend.open(deadlines={"urgent": 600.0})
    created = await window.create(draft())
    assert created.deadline == backend.clock.now + 600


async def test_a_normal_referral_counts_two_working_days_over_a_weekend(
    window: Window, backend: Backend
) -> None:
    backend.clock.now = at(2025, 8, 8, 15, 0)  # Friday 15:00
    created = await window.create(draft(level="normal"))
    assert created.deadline == at(2025, 8, 12, 15, 0)  # Tuesday 15:00: Mon, Tue
    assert await window.escalate_due(at(2025, 8, 11, 15, 0)) == []  # 3 days later: Monday
    assert await window.escalate_due(at(2025, 8, 12, 14, 59)) == []
    assert await window.escalate_due(at(2025, 8, 12, 15, 0, 1)) == [created.reference]


async def test_an_escalated_unrouted_referral_stays_with_the_hotline_supervisors(
    window: Window, backend: Backend
) -> None:
    created = await window.create(draft(district=None, township=None))
    assert await window.escalate_due(backend.clock.now + 5 * 3600) == [created.reference]
    assert [s.escalated for s in await window.list([UNROUTED])] == [True]


async def test_the_started_queue_escalates_by_itself(backend: Backend) -> None:
    window = backend.open(tick=0.05)
    created = await window.create(draft())
    await window.start()
    backend.clock.now += 4 * 3600 + 1
    for _ in range(200):
        current = await window.get(created.reference)
        if current is not None and current.escalated:
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("not escalated by the housekeeping loop")


# --- abandoned claims ----------------------------------------------------------------------


async def test_a_claim_without_contact_returns_to_the_queue_after_the_timeout(
    window: Window, backend: Backend
) -> None:
    abandoned = await window.create(draft("k1"))
    followed = await window.create(draft("k2"))
    await window.claim(abandoned.reference, "zhang")
    await window.claim(followed.reference, "li")
    await window.mark_contacted(followed.reference, "li")
    assert await window.reclaim_abandoned() == []
    await backend.pass_claim_timeout()
    assert await window.reclaim_abandoned() == [abandoned.reference]
    back = await window.get(abandoned.reference)
    assert back is not None
    assert (back.status, back.assignee) == ("new", None)
    assert back.audit[-1]["action"] == "reclaimed"
    assert back.audit[-1]["detail"] == {"from": "zhang"}
    still = await window.get(followed.reference)
    assert still is not None
    assert (still.status, still.assignee) == ("contacted", "li")
    assert (await window.claim(abandoned.reference, "wang")).assignee == "wang"
    assert await window.reclaim_abandoned() == []  # the new claim is fresh


# --- purging -------------------------------------------------------------------------------


async def test_purge_removes_personal_data_and_keeps_the_audit(
    window: Window, backend: Backend
) -> None:
    old = await window.create(draft("k1"))
    await window.claim(old.reference, "zhang")
    await window.reply(old.reference, "zhang", "请明天带身份证来")
    await window.resolve(old.reference, "zhang", "已为张大爷办理临时救助")
    still_open = await window.create(draft("k2"))
    before = await window.get(old.reference)
    assert before is not None
    backend.clock.now += 181 * 86400
    assert await window.purge_personal_data(180 * 86400) == 1
    assert await window.purge_personal_data(180 * 86400) == 0
    purged = await window.get(old.reference)
    assert purged is not None
    assert (purged.contact, purged.address, purged.outcome) == (None, "", "")
    assert [m["text"] for m in purged.thread] == ["", ""]
    assert [m["author"] for m in purged.thread] == ["resident", "zhang"]
    assert purged.screening == {"as_of": "2025-08-01", "district": "渝中区", "urgency": "urgent",
                                "programs": {"dibao": {"verdict": "likely"}}}  # fmt: skip
    assert purged.audit[:-1] == before.audit
    assert purged.audit[-1]["action"] == "purged"
    assert (purged.level, purged.queue, purged.signals) == ("urgent", TOWNSHIP, ["no_food"])
    kept = await window.get(still_open.reference)
    assert kept is not None
    assert kept.contact == PHONE
    assert kept.thread[0]["text"] == WORDS
    with pytest.raises(InvalidTransition):
        await window.add_message(old.reference, "resident", "还在吗")
    assert [s.reference for s in await window.list([TOWNSHIP], statuses=["resolved"])] == [
        old.reference]  # fmt: skip


async def test_purge_spares_what_was_resolved_recently(window: Window, backend: Backend) -> None:
    created = await window.create(draft())
    await window.claim(created.reference, "zhang")
    backend.clock.now += 100 * 86400
    await window.resolve(created.reference, "zhang", "已办结")
    backend.clock.now += 100 * 86400  # created 200 days ago, resolved 100 days ago
    assert await window.purge_personal_data(180 * 86400) == 0
    kept = await window.get(created.reference)
    assert kept is not None
    assert kept.contact == PHONE


# --- persistence ------------------------------------------------------------------------------


async def test_another_instance_sees_the_same_queue(backend: Backend) -> None:
    first = backend.open()
    created = await first.create(draft())
    await first.claim(created.reference, "zhang")
    await first.close()
    backend.opened.remove(first)
    second = backend.open()
    stored = await second.get(created.reference)
    assert stored is not None
    assert stored.assignee == "zhang"
    assert [s.reference for s in await second.list([TOWNSHIP])] == [created.reference]
