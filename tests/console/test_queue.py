"""The queue and referral pages over HTTP, against the real embedded referral queue."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from yarl import URL

from bot.console import queue as console_queue
from bot.console.auth import SESSIONS, digest
from bot.console.common import say
from bot.delivery import Delivery
from bot.referrals import Referral
from bot.sessions import Sessions
from bot.web import OUTBOX
from integrations.window import rules
from tests.console.helpers import OTHER_DISTRICT, TOWNSHIP_A, TOWNSHIP_B, Browser, Server

Make = Callable[[], Browser]
ACTIONS = ("claim", "release", "contacted", "reply", "resolve", "transfer")
FORM = {"text": "您好，我们明天上门", "outcome": "已上门", "township": "七星岗街道"}


def listed(body: str) -> list[str]:
    return re.findall(r'data-reference="(\d+)"', body)


async def test_staff_see_their_township_only_not_even_by_url(server: Server, browser: Make) -> None:
    mine = await server.referral(TOWNSHIP_A)
    theirs = await server.referral(TOWNSHIP_B)
    far = await server.referral(OTHER_DISTRICT)
    b = browser()
    await b.login("staff_a")
    _, body = await b.get("/console/queue")
    assert listed(body) == [mine.reference]
    status, _ = await b.get(f"/console/referral/{mine.reference}")
    assert status == 200
    _, missing = await b.get("/console/referral/99999999")
    for other in (theirs, far):
        status, body = await b.get(f"/console/referral/{other.reference}")
        assert status == 404
        assert body == missing  # the same answer as for a reference that does not exist
        assert "13800138000" not in body
        for action in ACTIONS:
            status, _, _ = await b.post(f"/console/referral/{other.reference}/{action}", FORM)
            assert status == 404, action
        after = await server.services.referrals.get(other.reference)
        assert after is not None
        assert after.version == other.version
        assert after.status == "new"


@pytest.mark.parametrize(
    ("name", "seen"),
    [("staff_a", True), ("staff_b", False), ("staff_f", False), ("super_yz", True),
     ("super_fj", False)],
)  # fmt: skip
async def test_who_may_open_a_referral_of_township_a(
    server: Server, browser: Make, name: str, seen: bool
) -> None:
    referral = await server.referral(TOWNSHIP_A)
    b = browser()
    await b.login(name)
    status, body = await b.get(f"/console/referral/{referral.reference}")
    assert status == (200 if seen else 404)
    assert ("13800138000" in body) is seen


@pytest.mark.parametrize("name", ["op", "boss"])
async def test_operators_and_admins_have_no_queue(server: Server, browser: Make, name: str) -> None:
    referral = await server.referral(TOWNSHIP_A)
    b = browser()
    await b.login(name)
    status, _ = await b.get(f"/console/referral/{referral.reference}")
    assert status == 403
    status, _, _ = await b.post(f"/console/referral/{referral.reference}/claim", {})
    assert status == 403
    assert (await server.services.referrals.get(referral.reference)).status == "new"  # type: ignore[union-attr]


async def test_the_queue_puts_emergencies_first_then_deadlines(
    server: Server, browser: Make
) -> None:
    normal = await server.referral(TOWNSHIP_A, "normal")
    urgent = await server.referral(TOWNSHIP_A, "urgent")
    emergency = await server.referral(TOWNSHIP_A, "emergency")
    urgent_later = await server.referral(TOWNSHIP_A, "urgent")
    b = browser()
    await b.login("staff_a")
    _, body = await b.get("/console/queue")
    order = [emergency.reference, urgent.reference, urgent_later.reference, normal.reference]
    assert listed(body) == order
    assert '<meta http-equiv="refresh" content="30">' in body
    assert "剩余29分钟" in body or "剩余30分钟" in body  # the emergency's half hour
    assert "138****8000" in body  # masked in the list
    assert "13800138000" not in body
    status, page = await b.get(f"/console/referral/{emergency.reference}")
    assert status == 200
    assert "13800138000" in page  # whole on the referral's page


async def test_escalated_referrals_reach_the_district_supervisors(
    server: Server, browser: Make
) -> None:
    referral = await server.referral(TOWNSHIP_A, "urgent")
    escalated = await server.services.referrals.escalate_due(time.time() + 5 * 3600)
    assert escalated == [referral.reference]
    supervisor = browser()
    await supervisor.login("super_yz")
    _, body = await supervisor.get("/console/queue")
    assert listed(body) == [referral.reference]
    assert "已超时·已上报区县" in body
    staff = browser()
    await staff.login("staff_a")
    _, body = await staff.get("/console/queue")
    assert listed(body) == [referral.reference]  # still in the township's own queue
    other = browser()
    await other.login("staff_b")
    _, body = await other.get("/console/queue")
    assert listed(body) == []


async def test_claim_reply_resolve_reaches_the_resident_and_the_audit(
    server: Server, browser: Make
) -> None:
    referral = await server.referral(TOWNSHIP_A, address="b" * 32)
    b = browser()
    await b.login("staff_a")
    base = f"/console/referral/{referral.reference}"
    status, _, location = await b.post(f"{base}/claim", {})
    assert (status, location) == (303, f"{base}?done=done_claimed")
    _, page = await b.get(location)
    assert "已认领。请尽快联系居民。" in page
    assert 'id="reply"' in page

    status, _, location = await b.post(f"{base}/reply", {"text": "您好，明天上午<b>上门</b>"})
    assert (status, location) == (303, f"{base}?done=done_replied")
    outbox = await server.services.store.get(OUTBOX, "b" * 32)
    assert outbox is not None
    (sent,) = outbox["replies"]
    assert "您好，明天上午<b>上门</b>" in sent["text"]  # plain text for textContent
    assert "&lt;b&gt;" in sent["text_html"]  # escaped for the web channel
    assert referral.reference in sent["text"]
    session, _ = await Sessions(server.services.store).load(f"web:{'b' * 32}")
    assert session.handover == referral.reference

    status, _, location = await b.post(f"{base}/resolve", {"outcome": "已上门，协助申请临时救助"})
    assert (status, location) == (303, f"{base}?done=done_resolved")
    done = await server.services.referrals.get(referral.reference)
    assert done is not None
    assert done.status == "resolved"
    assert done.outcome == "已上门，协助申请临时救助"
    assert [m["author"] for m in done.thread] == ["resident", "staff_a"]
    actions = [(e["who"], e["action"]) for e in done.audit]
    assert actions == [
        ("system", "created"), ("staff_a", "claimed"), ("staff_a", "replied"),
        ("staff_a", "reply_delivered"), ("staff_a", "resolved"),
    ]  # fmt: skip
    assert done.thread[-1]["delivery"] == "delivered"
    session, _ = await Sessions(server.services.store).load(f"web:{'b' * 32}")
    assert session.handover is None  # back to the bot
    _, page = await b.get(base)
    assert "已办结" in page
    assert "张三" in page  # the audit names staff as colleagues know them
    _, body = await b.get("/console/queue?show=resolved")
    assert listed(body) == [referral.reference]


async def test_only_the_holder_may_act_and_is_named(server: Server, browser: Make) -> None:
    referral = await server.referral(TOWNSHIP_A)
    staff = browser()
    await staff.login("staff_a")
    await staff.post(f"/console/referral/{referral.reference}/claim", {})
    supervisor = browser()
    await supervisor.login("super_yz")
    base = f"/console/referral/{referral.reference}"
    for action in ("claim", "reply", "resolve", "release"):
        status, body, _ = await supervisor.post(f"{base}/{action}", FORM)
        assert status == 409, action
        assert "已由 张三 认领" in body
    after = await server.services.referrals.get(referral.reference)
    assert after is not None
    assert (after.status, after.assignee, len(after.thread)) == ("claimed", "staff_a", 1)


async def test_the_queue_names_the_holder_as_colleagues_know_them(
    server: Server, browser: Make
) -> None:
    referral = await server.referral(TOWNSHIP_A)
    staff = browser()
    await staff.login("staff_a")
    await staff.post(f"/console/referral/{referral.reference}/claim", {})
    supervisor = browser()
    await supervisor.login("super_yz")
    _, body = await supervisor.get("/console/queue")
    assert listed(body) == [referral.reference]
    assert "处理人 张三" in body
    assert "staff_a" not in body  # the login name is not how colleagues know each other


async def test_a_card_without_a_phone_says_so_instead_of_a_chat_address(
    server: Server, browser: Make
) -> None:
    web = await server.referral(TOWNSHIP_A, contact=None, channel="web", address="f" * 32)
    sms = await server.referral(TOWNSHIP_A, contact=None, channel="sms", address="+8613900001111")
    b = browser()
    await b.login("staff_a")
    _, body = await b.get("/console/queue")
    cards = dict(re.findall(r'data-reference="(\d+)".*?class="contact">([^<]*)<', body, re.S))
    assert cards[web.reference].split() == ["网页聊天", "未留电话"]  # not a masked browser id
    assert cards[sms.reference].split() == ["短信", "139****1111"]  # the number they wrote from


async def test_acting_before_claiming_is_refused(server: Server, browser: Make) -> None:
    referral = await server.referral(TOWNSHIP_A)
    b = browser()
    await b.login("staff_a")
    status, body, _ = await b.post(f"/console/referral/{referral.reference}/resolve", FORM)
    assert status == 409
    assert "当前状态下不能这样操作" in body
    status, body, _ = await b.post(f"/console/referral/{referral.reference}/reply", {"text": "  "})
    assert status == 400
    assert "请填写要回复居民的内容" in body
    assert (await server.services.referrals.get(referral.reference)).version == referral.version  # type: ignore[union-attr]


async def test_release_and_mark_contacted(server: Server, browser: Make) -> None:
    referral = await server.referral(TOWNSHIP_A)
    b = browser()
    await b.login("staff_a")
    base = f"/console/referral/{referral.reference}"
    await b.post(f"{base}/claim", {})
    status, _, _ = await b.post(f"{base}/contacted", {})
    assert status == 303
    assert (await server.services.referrals.get(referral.reference)).status == "contacted"  # type: ignore[union-attr]
    status, _, _ = await b.post(f"{base}/release", {})
    assert status == 303
    released = await server.services.referrals.get(referral.reference)
    assert released is not None
    assert (released.status, released.assignee) == ("new", None)


async def test_staff_transfer_within_their_district_only(server: Server, browser: Make) -> None:
    referral = await server.referral(TOWNSHIP_A)
    a = browser()
    await a.login("staff_a")
    base = f"/console/referral/{referral.reference}"
    status, body, _ = await a.post(f"{base}/transfer", {"township": "解放碑街道"})
    assert status == 400
    assert "已经在这个窗口" in body
    # the district field is ignored for staff: 永安街道 is looked up in 渝中区, not 奉节县
    status, body, _ = await a.post(
        f"{base}/transfer", {"district": "奉节县", "township": "永安街道"}
    )
    assert status == 400
    assert "找不到乡镇" in body
    assert (await server.services.referrals.get(referral.reference)).queue == TOWNSHIP_A  # type: ignore[union-attr]

    status, _, location = await a.post(f"{base}/transfer", {"township": "七星岗"})
    assert status == 303
    assert location.startswith("/console/queue?done=done_transferred")
    moved = await server.services.referrals.get(referral.reference)
    assert moved is not None
    assert (moved.queue, moved.status) == (TOWNSHIP_B, "transferred")
    status, _ = await a.get(base)
    assert status == 404  # no longer theirs
    b = browser()
    await b.login("staff_b")
    _, body = await b.get("/console/queue")
    assert listed(body) == [referral.reference]


async def test_supervisors_transfer_anywhere(server: Server, browser: Make) -> None:
    referral = await server.referral(TOWNSHIP_A)
    s = browser()
    await s.login("super_yz")
    base = f"/console/referral/{referral.reference}"
    status, _, location = await s.post(
        f"{base}/transfer", {"district": "奉节县", "township": "永安街道"}
    )
    assert (status, location) == (
        303,
        "/console/queue?done=done_transferred&to=%E5%A5%89%E8%8A%82%E5%8E%BF/%E6%B0%B8%E5%AE%89%E8%A1%97%E9%81%93",
    )
    moved = await server.services.referrals.get(referral.reference)
    assert moved is not None
    assert moved.queue == OTHER_DISTRICT
    f = browser()
    await f.login("staff_f")
    status, _ = await f.get(base)
    assert status == 200


async def test_an_undeliverable_reply_is_kept_and_reported(server: Server, browser: Make) -> None:
    referral = await server.referral(TOWNSHIP_A, channel="sms", address="13900139000")
    b = browser()
    await b.login("staff_a")
    base = f"/console/referral/{referral.reference}"
    await b.post(f"{base}/claim", {})
    assert isinstance(server.services.delivery, Delivery)
    assert "sms" not in server.services.delivery.channels
    _, page = await b.get(base)
    assert 'id="cannot-send"' in page  # said before anyone writes
    status, body, _ = await b.post(f"{base}/reply", {"text": "请回电话"})
    assert status == 502
    assert "没能发送给居民" in body
    assert "no_channel" not in body  # staff read the reason in words, not its code
    assert "这个渠道没有接入发送" in body
    after = await server.services.referrals.get(referral.reference)
    assert after is not None
    assert after.thread[-1]["text"] == "请回电话"
    assert (after.thread[-1]["delivery"], after.thread[-1]["error"]) == ("failed", "no_channel")
    assert after.status == "claimed"  # not contacted: the resident got nothing
    actions = [e["action"] for e in after.audit]
    assert actions[-2:] == ["replied", "reply_undelivered"]
    session, _ = await Sessions(server.services.store).load("sms:13900139000")
    assert session.handover is None  # not handed over: the resident got nothing
    _, page = await b.get(base)  # after a reload, still marked
    assert "居民没有收到：这个渠道没有接入发送" in page
    assert "回复未送达" in page  # the audit trail
    assert '<span class="status" id="status">已认领</span>' in page
    _, queue = await b.get("/console/queue")
    assert "回复未送达" in queue


async def test_a_session_is_ended_when_its_user_is_disabled(server: Server, browser: Make) -> None:
    b = browser()
    await b.login("staff_a")
    assert (await b.get("/console/queue"))[0] == 200
    token = b.session.cookie_jar.filter_cookies(URL(server.url))["rb_console"].value
    assert await server.services.store.get(SESSIONS, digest(token)) is not None
    await server.console.users.set_disabled("staff_a", True)
    _, body = await b.get("/console/queue")
    assert "工作人员登录" in body
    assert await server.services.store.get(SESSIONS, digest(token)) is None


def notified(referral: Referral, now: float, record: dict[str, Any]) -> Referral:
    return rules.notified(referral, now, record)


async def test_the_referral_page_says_which_staff_notifications_were_delivered(
    server: Server, browser: Make
) -> None:
    referral = await server.referral(TOWNSHIP_A)
    window = server.services.referrals
    for target, status, attempts, error in (
        ("telegram:-1001234567890", "delivered", 1, None),
        ("sms:139****9000", "failed", 6, "NotifyError"),
    ):
        record = {"job": "1", "event": "new", "target": target, "status": status,
                  "attempts": attempts, "error": error}  # fmt: skip
        await window._change(referral.reference, partial(notified, record=record))
    b = browser()
    await b.login("staff_a")
    _, page = await b.get(f"/console/referral/{referral.reference}")
    assert "新转介 → telegram:-1001234567890：已送达" in page
    assert "新转介 → sms:139****9000：未送达（试了6次）" in page
    assert "通知已送达" in page  # the audit trail
    _, queue = await b.get("/console/queue")
    assert "通知未送达" in queue


@pytest.mark.parametrize("done", ["done_bogus", "done_", "done_user_added", "claimed", "x" * 300])
async def test_a_tampered_done_code_is_ignored(server: Server, browser: Make, done: str) -> None:
    referral = await server.referral(TOWNSHIP_A)
    b = browser()
    await b.login("staff_a")
    status, body = await b.get(f"/console/referral/{referral.reference}", params={"done": done})
    assert status == 200
    assert 'class="flash ok"' not in body
    status, body = await b.get("/console/queue", params={"done": done})
    assert status == 200
    assert 'class="flash ok"' not in body


@pytest.mark.parametrize("done", sorted(console_queue.DONE))
async def test_every_code_the_actions_redirect_with_is_shown(
    server: Server, browser: Make, done: str
) -> None:
    referral = await server.referral(TOWNSHIP_A)
    b = browser()
    await b.login("staff_a")
    query = {"done": done, "to": TOWNSHIP_B}
    status, body = await b.get(f"/console/referral/{referral.reference}", params=query)
    assert status == 200
    shown = say(done, {"queue": TOWNSHIP_B, "name": TOWNSHIP_B})
    assert f'<p class="flash ok" role="status">{shown}</p>' in body
