"""Whatever a resident types, in whatever state: at least one reply, never an exception.

Sessions are captured in every state of both dialogues and at the menu's offers; then
hypothesis sends any text. `respond` (the router's decision, no I/O) is checked with many
examples and every reply is rendered on every channel; `handle` (the whole path, on the
embedded store and the real queue) with fewer, since it writes to disk.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.messages import CHANNELS, Inbound
from bot.referrals import ReferralQueue
from bot.render import render_reply
from bot.router import REFERRAL, SCREENING, Router
from dialogues import referral, screening
from dialogues.engine import Flow, Session
from tests.bot.talk import SENDER, Bench

ERROR = "没处理好您的消息"
PLANS: Sequence[Mapping[str, str | Sequence[str]]] = (
    {"district": "奉节", "receiving": "1", "size": "2", "ages": "45 20", "situation": ["1", "4"]},
    {
        "size": "2",
        "ages": "40 30",
        "situation": ["1", "5"],
        "grade": "3",
        "other": "900",
        "vehicle": "有",
        "hardship": "4",
    },
    {
        "size": "68 30",
        "situation": ["1", "5"],
        "grade": ["2", "1"],
        "labour": "3000",
        "other": "500",
    },
    {"size": "1"},
)
INTERESTING = [
    "",
    " ",
    "1",
    "２",
    "0",
    "99",
    "9" * 40,
    "不知道",
    "跳过",
    "返回",
    "重来",
    "人工",
    "退出",
    "帮助",
    "结束",
    "测一测",
    "详细",
    "全文",
    "😊👍🙏",
    "👎",
    "<b>&amp;</b>",
    "低保标准是多少",
    "我不想活了",
    "家里没饭吃了",
    "13800138000",
    "万州区解放碑",
    "68 66 12",
    "两千五",
    "我家里的情况是这样的，" * 250,
]
TEXTS = st.one_of(st.sampled_from(INTERESTING), st.text(max_size=60))


def _capture(flow: Flow, plans: Sequence[Mapping[str, Any]], start: Mapping[str, Any]) -> list:
    """A session in each state the plans reach, answered as planned (else 不知道)."""
    seen: dict[tuple[str | None, int], dict[str, Any]] = {}
    for plan in plans:
        queue = {k: [v] if isinstance(v, str) else list(v) for k, v in plan.items()}
        session = Session()
        flow.start(session, dict(start))
        while session.flow is not None:
            seen.setdefault((session.state, session.cursor), session.to_dict())
            answers = queue.get(session.state or "")
            assert flow.handle(session, answers.pop(0) if answers else "不知道") is not None
    return list(seen.values())


@functools.cache
def sessions() -> list[dict[str, Any]]:
    found = _capture(screening.FLOW, PLANS, {"today": "2025-08-01"})
    assert {s["state"] for s in found} == set(screening.FLOW.order)
    referral_start = {"case": {"level": "normal"}, "own_number": "13800138000"}
    plan = {
        "consent": "1",
        "phone": "不留",
        "district": "渝中",
        "township": "解放碑",
        "confirm": "1",
    }
    referrals = _capture(referral.FLOW, [plan], referral_start)
    assert {s["state"] for s in referrals} == set(referral.FLOW.order)
    finished = Session()
    screening.FLOW.start(finished, {"today": "2025-08-01"})
    while finished.flow is not None:
        screening.FLOW.handle(finished, "不知道" if finished.state != "size" else "2")
    paused = Session.from_dict(found[3])
    paused.pause()
    paused.flow, paused.state, paused.answers = REFERRAL, "consent", {"case": {}}
    at_menu = [
        Session(),
        Session(offer={"kind": "menu"}),
        Session(offer={"kind": "topics", "ids": ["dibao.conditions"], "id": "dibao.what"}),
        finished,
        paused,
        Session(handover="12345678", referral={"reference": "12345678"}),
    ]
    return found + referrals + [s.to_dict() for s in at_menu]


ROUTER_BENCH: dict[str, Router] = {}


def offline_router(tmp: Path) -> Router:
    """A router for `respond` only: its store and queue are never touched."""
    if "router" not in ROUTER_BENCH:
        from bot.store import open_store

        store = open_store(tmp)
        unused = cast(ReferralQueue, None)
        ROUTER_BENCH["router"] = Router(
            store, unused, {SCREENING: screening.FLOW, REFERRAL: referral.FLOW}
        )
    return ROUTER_BENCH["router"]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    state=st.integers(min_value=0, max_value=10_000),
    text=TEXTS,
    channel=st.sampled_from(CHANNELS),
    expired=st.booleans(),
)
def test_any_text_in_any_state_gets_a_reply_that_renders_everywhere(
    tmp_path_factory: Any, state: int, text: str, channel: str, expired: bool
) -> None:
    router = offline_router(tmp_path_factory.getbasetemp() / "offline")
    snapshot = sessions()[state % len(sessions())]
    session = Session.from_dict(snapshot)
    turn = router.respond(session, Inbound(channel, SENDER, text), expired)
    assert turn.says
    values = {"referral": {"reference": "12345678", "created_at": 0.0, "deadline": 3600.0}}
    for say in turn.says:
        for shown_on in CHANNELS:
            reply = render_reply(shown_on, say.template, {**values, **say.values})
            assert reply.text.strip(), say.template
    Session.from_dict(session.to_dict())  # still a plain, storable session


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(state=st.integers(min_value=0, max_value=10_000), text=TEXTS)
async def test_the_whole_path_never_raises_and_always_replies(
    tmp_path: Path, state: int, text: str
) -> None:
    bench = await Bench.open("embedded", tmp_path / uuid.uuid4().hex)
    try:
        snapshot = dict(sessions()[state % len(sessions())])
        snapshot["referral"] = None  # no such referral in this queue
        snapshot["handover"] = None
        sender = f"+86139{uuid.uuid4().int % 10**8:08d}"
        await bench.store.put("session", f"sms:{sender}", snapshot)
        replies = await bench.say(text, sender=sender)
        assert replies
        assert all(r.text.strip() for r in replies)
        assert ERROR not in "\n".join(r.text for r in replies)
    finally:
        await bench.close()
